// DeepSeek-VL (Lu et al. 2024; transformers `DeepseekVLForConditionalGeneration`): a SigLIP tower whose
// `last_hidden_state` — post_layernorm applied, unlike LLaVA's feature layer — goes through the aligner
// Linear → GELU → Linear, and a Llama decoder. One image gives (H/patch)² features, spliced over the image tokens
// in row-major order across the batch. The SigLIP pooling head is stored in checkpoints but never run.
// Checkpoints use the runtime names (`model.vision_model.*`, `model.aligner.*`, `model.language_model.*`,
// `lm_head.weight`); SigLIP keys may also carry a second `vision_model.` (`model.vision_model.vision_model.*`).
// The splice, head, forward (with loss) and greedy generate are the shared ones of ./vlm.ts.
//
// Shapes: B batch, T tokens, I images, N patches per image, Cv vision width, C text width, V vocab.

import type { Linear } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';
import type { Tensor } from '../../tensor/index.ts';
import { ConfigReader, type Json } from '../../io/hf/config.ts';
import { loadCheckpointInto } from '../../io/hf/llava-weights.ts';
import type { LlmConfig } from '../llm/config.ts';
import { DecoderModel } from '../llm/decoder.ts';
import { DeepseekAligner } from '../projector/deepseek-aligner.ts';
import { parseVitConfig, type VitConfig } from '../vision/vit/config.ts';
import { SiglipVisionTower } from '../vision/vit/siglip.ts';
import { registerModel, type LoadedModel } from '../registry.ts';
import { lmHead, namedVlmInput, parseVlmTextConfig, PixelValuesVlm, vlmEntryPoints, type DecoderVlmInput, type DecoderVlmOutput, type ImageRows } from './vlm.ts';

export interface DeepseekVlConfig {
  readonly text: LlmConfig;
  readonly vision: VitConfig;
  readonly imageTokenId: number;
}

export function parseDeepseekVlConfig(json: Json, where = 'config.json'): DeepseekVlConfig {
  const c = new ConfigReader(json, where);
  const text = parseVlmTextConfig(c, where);
  const vision = parseVitConfig(c.child('vision_config').obj, `${where}:vision_config`);
  if (vision.kind !== 'siglip') throw new Error(`${where}:vision_config: DeepSeek-VL needs a SigLIP vision model, got ${vision.kind}`);
  return Object.freeze({ text, vision, imageTokenId: c.int('image_token_id') });
}

/** Runtime name of a DeepSeek-VL(-hybrid) checkpoint key: the runtime layout, with `vision_model.vision_model.` folded. */
export function deepseekRuntimeName(key: string): string | null {
  if (key === 'lm_head.weight') return key;
  if (key.startsWith('model.vision_model.vision_model.')) return `model.vision_model.${key.slice('model.vision_model.vision_model.'.length)}`;
  return key.startsWith('model.') ? key : null;
}

export interface SiglipFeatures {
  /** numLayers + 1 entries of [I, N, Cv]. */
  readonly hiddenStates: Tensor[];
  /** [I, N, Cv] post_layernorm(last layer). */
  readonly lastHiddenState: Tensor;
}

/** SigLIP embeddings → encoder → post_layernorm, leaving out the pooling head. */
export function siglipFeatures(tower: SiglipVisionTower, pixels: Tensor): SiglipFeatures {
  const hiddenStates = tower.encoder.forward(tower.embeddings.forward(pixels));
  return { hiddenStates, lastHiddenState: tower.post_layernorm.forward(hiddenStates[hiddenStates.length - 1]!) };
}

export interface DeepseekVlImageFeatures extends ImageRows {
  readonly vision: SiglipFeatures;
}

export type DeepseekVlInput = DecoderVlmInput;

export interface DeepseekVlOutput extends DecoderVlmOutput<DeepseekVlImageFeatures> {
  vision: SiglipFeatures | null;
  /** [I, N, C] aligner output. */
  imageFeatures: Tensor | null;
}

class DeepseekVlBody extends Module {
  vision_model: SiglipVisionTower;
  aligner: DeepseekAligner;
  language_model: DecoderModel;
  constructor(cfg: DeepseekVlConfig) {
    super();
    this.vision_model = new SiglipVisionTower(cfg.vision);
    this.aligner = new DeepseekAligner(cfg.vision.hiddenSize, cfg.text.hiddenSize);
    this.language_model = new DecoderModel(cfg.text);
  }
}

export class DeepseekVl extends PixelValuesVlm<DeepseekVlImageFeatures> {
  model: DeepseekVlBody;
  lm_head: Linear | null;
  constructor(readonly cfg: DeepseekVlConfig) {
    super({ model: 'deepseek-vl', imageTokens: 'image tokens' });
    this.model = new DeepseekVlBody(cfg);
    this.lm_head = lmHead(cfg.text);
  }

  /** pixels [I, 3, H, W] → SigLIP features and the aligner output [I, N, C]. */
  imageFeatures(pixels: Tensor): DeepseekVlImageFeatures {
    const vision = siglipFeatures(this.model.vision_model, pixels);
    return { vision, projected: this.model.aligner.forward(vision.lastHiddenState) };
  }

  get decoder(): DecoderModel {
    return this.model.language_model;
  }

  /** The shared output plus the SigLIP stages and aligner output under their own names. */
  override forward(input: DeepseekVlInput): DeepseekVlOutput {
    const out = super.forward(input);
    return { ...out, vision: out.image?.vision ?? null, imageFeatures: out.image?.projected ?? null };
  }
}

export function loadDeepseekVl(dir: string, config: Record<string, unknown>): LoadedModel & { module: DeepseekVl } {
  const module = new DeepseekVl(parseDeepseekVlConfig(config, `${dir}/config.json`));
  const report = loadCheckpointInto(module, dir, deepseekRuntimeName, new Set(['lm_head.weight']));
  module.eval();
  return {
    modelType: 'deepseek_vl', dir, config, module, ...vlmEntryPoints('deepseek-vl', module, namedVlmInput),
    checkpointKey: (name) => report.keyOf.get(name) ?? name,
  };
}

registerModel(['deepseek_vl'], loadDeepseekVl);
