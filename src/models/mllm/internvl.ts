// InternVL (Chen et al. 2024; transformers `InternVLForConditionalGeneration`): an InternViT tower, pixel shuffle by
// `downsample_ratio`, the LayerNorm-MLP projector, and a Qwen2/Llama decoder. Each tile of `pixel_values`
// [tiles, 3, H, W] (the tiles of the whole batch stacked on dim 0) gives (g·ratio)² features, which fill the
// `<IMG_CONTEXT>` positions of input_ids in row-major order across the batch (the processor has already expanded
// them between `<img>` and `</img>`). Parameter names are the transformers runtime names; checkpoints use the LLaVA
// layout (`vision_tower.*`, `multi_modal_projector.*`, `language_model.model.*`, `language_model.lm_head.weight`).
// The splice, head, forward (with loss) and greedy generate are the shared ones of ./vlm.ts.
//
// Shapes: B batch, T tokens, I tiles, N tokens per tile (CLS + P), M = (g·ratio)² features per tile, C text width.

import type { Linear } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';
import { slice, type Tensor } from '../../tensor/index.ts';
import { ConfigReader, type Json } from '../../io/hf/config.ts';
import { llavaCheckpointKey, llavaRuntimeName, loadCheckpointInto } from '../../io/hf/llava-weights.ts';
import type { LlmConfig } from '../llm/config.ts';
import { DecoderModel } from '../llm/decoder.ts';
import { InternVlProjector, pixelShuffle, shuffleFactor } from '../projector/internvl-mlp.ts';
import { InternVisionTower, parseInternVitConfig, type InternVitConfig, type InternVitOutput } from '../vision/intern-vit.ts';
import { registerModel, type LoadedModel } from '../registry.ts';
import { lmHead, namedVlmInput, parseVlmTextConfig, PixelValuesVlm, vlmEntryPoints, type DecoderVlmInput, type DecoderVlmOutput, type ImageRows } from './vlm.ts';

export interface InternVlConfig {
  readonly text: LlmConfig;
  readonly vision: InternVitConfig;
  /** The `<IMG_CONTEXT>` id. */
  readonly imageTokenId: number;
  readonly downsampleRatio: number;
  /** Index into the vision hidden states; -1 is last_hidden_state. */
  readonly visionFeatureLayer: number;
  readonly visionFeatureSelectStrategy: 'default' | 'full';
  readonly projectorHiddenAct: string;
}

export function parseInternVlConfig(json: Json, where = 'config.json'): InternVlConfig {
  const c = new ConfigReader(json, where);
  const text = parseVlmTextConfig(c, where);
  const vision = parseInternVitConfig(c.child('vision_config').obj, `${where}:vision_config`);
  const strategy = c.str('vision_feature_select_strategy', 'default');
  if (strategy !== 'default' && strategy !== 'full') throw new Error(`${where}: vision_feature_select_strategy "${strategy}" must be "default" or "full"`);
  const layer = c.int('vision_feature_layer', -1);
  if (layer < -(vision.numLayers + 1) || layer > vision.numLayers) {
    throw new Error(`${where}: vision_feature_layer ${layer} is outside the ${vision.numLayers + 1} vision hidden states`);
  }
  const downsampleRatio = c.num('downsample_ratio', 0.5);
  shuffleFactor(downsampleRatio);
  return Object.freeze({
    text, vision, downsampleRatio, visionFeatureLayer: layer, visionFeatureSelectStrategy: strategy,
    imageTokenId: c.int('image_token_id', 151667),
    projectorHiddenAct: c.str('projector_hidden_act', 'gelu'),
  });
}

export interface InternVlImageFeatures extends ImageRows {
  readonly vision: InternVitOutput;
  /** [I, M, s²·Cv] pixel-shuffled features, the projector input. */
  readonly shuffled: Tensor;
}

export type InternVlInput = DecoderVlmInput;
export type InternVlOutput = DecoderVlmOutput<InternVlImageFeatures>;

/** `model.*`, named as transformers' InternVLModel. */
class InternVlBody extends Module {
  vision_tower: InternVisionTower;
  multi_modal_projector: InternVlProjector;
  language_model: DecoderModel;
  constructor(cfg: InternVlConfig) {
    super();
    this.vision_tower = new InternVisionTower(cfg.vision);
    const s = shuffleFactor(cfg.downsampleRatio);
    this.multi_modal_projector = new InternVlProjector({ inFeatures: cfg.vision.hiddenSize * s * s, outFeatures: cfg.text.hiddenSize, act: cfg.projectorHiddenAct });
    this.language_model = new DecoderModel(cfg.text);
  }
}

export class InternVl extends PixelValuesVlm<InternVlImageFeatures> {
  model: InternVlBody;
  lm_head: Linear | null;
  constructor(readonly cfg: InternVlConfig) {
    super({ model: 'internvl', imageTokens: '<IMG_CONTEXT> tokens' });
    this.model = new InternVlBody(cfg);
    this.lm_head = lmHead(cfg.text);
  }

  /** pixels [I, 3, H, W] → shuffled and projected features per tile. */
  imageFeatures(pixels: Tensor): InternVlImageFeatures {
    const depth = this.cfg.vision.numLayers, layer = this.cfg.visionFeatureLayer;
    const useLast = layer === -1 || layer === depth;
    const index = layer < 0 ? depth + 1 + layer : layer;
    const vision = this.model.vision_tower.forward(pixels, useLast ? depth : index);
    const h = useLast ? vision.lastHiddenState : vision.hiddenStates[index]!; // [I, N, Cv]
    const patches = this.cfg.visionFeatureSelectStrategy === 'default' ? slice(h, 1, 1) : h; // [I, P, Cv]
    const shuffled = pixelShuffle(patches, this.cfg.downsampleRatio); // [I, M, s²·Cv]
    return { vision, shuffled, projected: this.model.multi_modal_projector.forward(shuffled) };
  }

  get decoder(): DecoderModel {
    return this.model.language_model;
  }
}

export function loadInternVl(dir: string, config: Record<string, unknown>): LoadedModel & { module: InternVl } {
  const module = new InternVl(parseInternVlConfig(config, `${dir}/config.json`));
  const report = loadCheckpointInto(module, dir, llavaRuntimeName, new Set(['lm_head.weight']));
  module.eval();
  return {
    modelType: 'internvl', dir, config, module, ...vlmEntryPoints('internvl', module, namedVlmInput),
    checkpointKey: (name) => report.keyOf.get(name) ?? llavaCheckpointKey(name),
  };
}

registerModel(['internvl'], loadInternVl);
