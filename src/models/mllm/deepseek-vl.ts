// DeepSeek-VL (Lu et al. 2024; transformers `DeepseekVLForConditionalGeneration`): a SigLIP tower whose
// `last_hidden_state` — post_layernorm applied, unlike LLaVA's feature layer — goes through the aligner
// Linear → GELU → Linear, and a Llama decoder. One image gives (H/patch)² features, spliced over the image tokens
// in row-major order across the batch. The SigLIP pooling head is stored in checkpoints but never run.
// Checkpoints use the runtime names (`model.vision_model.*`, `model.aligner.*`, `model.language_model.*`,
// `lm_head.weight`); SigLIP keys may also carry a second `vision_model.` (`model.vision_model.vision_model.*`).
//
// Shapes: B batch, T tokens, I images, N patches per image, Cv vision width, C text width, V vocab.

import { Linear } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';
import { linear, noGrad, slice, type Tensor } from '../../tensor/index.ts';
import { ConfigReader, type Json } from '../../io/hf/config.ts';
import { loadCheckpointInto } from '../../io/hf/llava-weights.ts';
import type { KVCache } from '../llm/cache.ts';
import { parseLlmConfig, type LlmConfig } from '../llm/config.ts';
import { DecoderModel } from '../llm/decoder.ts';
import { greedyGenerate, type GreedyResult } from '../llm/generate.ts';
import { DeepseekAligner } from '../projector/deepseek-aligner.ts';
import { parseVitConfig, type VitConfig } from '../vision/vit/config.ts';
import { SiglipVisionTower } from '../vision/vit/siglip.ts';
import { registerModel, type LoadedModel, type NamedTensors } from '../registry.ts';
import { causalLmLoss } from './llava.ts';
import { spliceFeatures } from './splice.ts';

export interface DeepseekVlConfig {
  readonly text: LlmConfig;
  readonly vision: VitConfig;
  readonly imageTokenId: number;
}

export function parseDeepseekVlConfig(json: Json, where = 'config.json'): DeepseekVlConfig {
  const c = new ConfigReader(json, where);
  const textJson = c.child('text_config').obj;
  const tie = c.has('tie_word_embeddings') ? c.bool('tie_word_embeddings') : null;
  const text = parseLlmConfig(tie === null ? textJson : { ...textJson, tie_word_embeddings: tie }, `${where}:text_config`);
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

/** Token embeddings with image features over the image tokens; errors name the counts (as transformers). */
export function embedWithImages(lm: DecoderModel, inputIds: Tensor, imageTokenId: number, features: Tensor | null, model: string): Tensor {
  const embeds = lm.embed(inputIds);
  if (!features) {
    if (inputIds.toList().includes(imageTokenId)) throw new Error(`${model}: input_ids hold image tokens (id ${imageTokenId}) but no pixel_values were given`);
    return embeds;
  }
  const [I, N, C] = features.shape as [number, number, number];
  return spliceFeatures(embeds, inputIds, imageTokenId, features.reshape([I * N, C]));
}

export interface DeepseekVlInput {
  inputIds: Tensor;
  pixelValues?: Tensor | null;
  attentionMask?: Tensor | null;
  positionIds?: Tensor | null;
  labels?: Tensor | null;
  cache?: KVCache;
}

export interface DeepseekVlOutput {
  logits: Tensor; // [B, T, V]
  loss: Tensor | null;
  cache: KVCache;
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

export class DeepseekVl extends Module {
  model: DeepseekVlBody;
  lm_head: Linear | null;
  constructor(readonly cfg: DeepseekVlConfig) {
    super();
    this.model = new DeepseekVlBody(cfg);
    this.lm_head = cfg.text.tieWordEmbeddings ? null : new Linear(cfg.text.hiddenSize, cfg.text.vocabSize, { bias: false });
  }

  /** pixels [I, 3, H, W] → SigLIP features and the aligner output [I, N, C]. */
  imageFeatures(pixels: Tensor): { vision: SiglipFeatures; projected: Tensor } {
    const vision = siglipFeatures(this.model.vision_model, pixels);
    return { vision, projected: this.model.aligner.forward(vision.lastHiddenState) };
  }

  head(h: Tensor): Tensor {
    return linear(h, this.lm_head?.weight ?? this.model.language_model.embed_tokens.weight);
  }

  forward(input: DeepseekVlInput): DeepseekVlOutput {
    const image = input.pixelValues ? this.imageFeatures(input.pixelValues) : null;
    const inputsEmbeds = embedWithImages(this.model.language_model, input.inputIds, this.cfg.imageTokenId, image?.projected ?? null, 'deepseek-vl');
    const out = this.model.language_model.forward({
      inputsEmbeds, attentionMask: input.attentionMask ?? null, positionIds: input.positionIds ?? null, ...(input.cache ? { cache: input.cache } : {}),
    });
    const logits = this.head(out.lastHiddenState);
    return { logits, loss: input.labels ? causalLmLoss(logits, input.labels) : null, cache: out.cache, vision: image?.vision ?? null, imageFeatures: image?.projected ?? null };
  }

  /** Greedy continuation (left padding as transformers generate) and the raw logits of each step. */
  generate(inputIds: Tensor, pixelValues: Tensor | null, attentionMask: Tensor | null, maxNewTokens: number): GreedyResult {
    return greedyGenerate(inputIds, attentionMask, maxNewTokens, (s) => {
      const features = s.cache === null && pixelValues ? this.imageFeatures(pixelValues).projected : null;
      const out = this.model.language_model.forward({
        inputsEmbeds: embedWithImages(this.model.language_model, s.inputIds, this.cfg.imageTokenId, features, 'deepseek-vl'),
        attentionMask: s.attentionMask, positionIds: s.positionIds, ...(s.cache ? { cache: s.cache } : {}),
      });
      const T = out.lastHiddenState.shape[1]!;
      return { logits: this.head(slice(out.lastHiddenState, 1, T - 1, T)), cache: out.cache };
    });
  }
}

export function loadDeepseekVl(dir: string, config: Record<string, unknown>): LoadedModel & { module: DeepseekVl } {
  const module = new DeepseekVl(parseDeepseekVlConfig(config, `${dir}/config.json`));
  const report = loadCheckpointInto(module, dir, deepseekRuntimeName, new Set(['lm_head.weight']));
  module.eval();
  const arg = (inputs: NamedTensors, name: string): Tensor | null => inputs.get(name) ?? null;
  const ids = (inputs: NamedTensors, what: string): Tensor => {
    const t = inputs.get('input_ids');
    if (!t) throw new Error(`deepseek-vl ${what}: inputs need "input_ids"`);
    return t;
  };
  return {
    modelType: 'deepseek_vl', dir, config, module,
    forward(inputs: NamedTensors): NamedTensors {
      const out = module.forward({
        inputIds: ids(inputs, 'forward'), pixelValues: arg(inputs, 'pixel_values'), attentionMask: arg(inputs, 'attention_mask'),
        positionIds: arg(inputs, 'position_ids'), labels: arg(inputs, 'labels'),
      });
      const result: NamedTensors = new Map([['logits', out.logits]]);
      if (out.loss) result.set('loss', out.loss);
      return result;
    },
    checkpointKey: (name) => report.keyOf.get(name) ?? name,
    generate(inputs: NamedTensors, maxNewTokens: number): number[][] {
      return noGrad(() => module.generate(ids(inputs, 'generate'), arg(inputs, 'pixel_values'), arg(inputs, 'attention_mask'), maxNewTokens).tokens);
    },
  };
}

registerModel(['deepseek_vl'], loadDeepseekVl);
