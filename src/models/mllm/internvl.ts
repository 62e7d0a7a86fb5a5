// InternVL (Chen et al. 2024; transformers `InternVLForConditionalGeneration`): an InternViT tower, pixel shuffle by
// `downsample_ratio`, the LayerNorm-MLP projector, and a Qwen2/Llama decoder. Each tile of `pixel_values`
// [tiles, 3, H, W] (the tiles of the whole batch stacked on dim 0) gives (g·ratio)² features, which fill the
// `<IMG_CONTEXT>` positions of input_ids in row-major order across the batch (the processor has already expanded
// them between `<img>` and `</img>`). Parameter names are the transformers runtime names; checkpoints use the LLaVA
// layout (`vision_tower.*`, `multi_modal_projector.*`, `language_model.model.*`, `language_model.lm_head.weight`).
//
// Shapes: B batch, T tokens, I tiles, N tokens per tile (CLS + P), M = (g·ratio)² features per tile, C text width.

import { Linear } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';
import { linear, noGrad, slice, type Tensor } from '../../tensor/index.ts';
import { ConfigReader, type Json } from '../../io/hf/config.ts';
import { llavaCheckpointKey, llavaRuntimeName, loadCheckpointInto } from '../../io/hf/llava-weights.ts';
import type { KVCache } from '../llm/cache.ts';
import { parseLlmConfig, type LlmConfig } from '../llm/config.ts';
import { DecoderModel } from '../llm/decoder.ts';
import { greedyGenerate, type GreedyResult } from '../llm/generate.ts';
import { InternVlProjector, pixelShuffle, shuffleFactor } from '../projector/internvl-mlp.ts';
import { InternVisionTower, parseInternVitConfig, type InternVitConfig, type InternVitOutput } from '../vision/intern-vit.ts';
import { registerModel, type LoadedModel, type NamedTensors } from '../registry.ts';
import { causalLmLoss } from './llava.ts';
import { spliceFeatures } from './splice.ts';

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
  const textJson = c.child('text_config').obj;
  const tie = c.has('tie_word_embeddings') ? c.bool('tie_word_embeddings') : null;
  const text = parseLlmConfig(tie === null ? textJson : { ...textJson, tie_word_embeddings: tie }, `${where}:text_config`);
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

export interface InternVlImageFeatures {
  readonly vision: InternVitOutput;
  /** [I, M, s²·Cv] pixel-shuffled features, the projector input. */
  readonly shuffled: Tensor;
  /** [I, M, C] */
  readonly projected: Tensor;
}

export interface InternVlInput {
  inputIds: Tensor;
  pixelValues?: Tensor | null;
  attentionMask?: Tensor | null;
  positionIds?: Tensor | null;
  labels?: Tensor | null;
  cache?: KVCache;
  outputHiddenStates?: boolean;
}

export interface InternVlOutput {
  logits: Tensor; // [B, T, V]
  loss: Tensor | null;
  cache: KVCache;
  inputsEmbeds: Tensor; // [B, T, C]
  textHiddenStates: Tensor[] | null;
  image: InternVlImageFeatures | null;
}

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

export class InternVl extends Module {
  model: InternVlBody;
  lm_head: Linear | null;
  constructor(readonly cfg: InternVlConfig) {
    super();
    this.model = new InternVlBody(cfg);
    this.lm_head = cfg.text.tieWordEmbeddings ? null : new Linear(cfg.text.hiddenSize, cfg.text.vocabSize, { bias: false });
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

  /** Token embeddings with tile features over the `<IMG_CONTEXT>` tokens. [B, T] → [B, T, C] */
  embed(inputIds: Tensor, image: InternVlImageFeatures | null): Tensor {
    const embeds = this.model.language_model.embed(inputIds);
    const id = this.cfg.imageTokenId;
    if (!image) {
      if (inputIds.toList().includes(id)) throw new Error(`internvl: input_ids hold <IMG_CONTEXT> tokens (id ${id}) but no pixel_values were given`);
      return embeds;
    }
    const [I, M, C] = image.projected.shape as [number, number, number];
    return spliceFeatures(embeds, inputIds, id, image.projected.reshape([I * M, C]));
  }

  /** [.., C] → [.., V] */
  head(h: Tensor): Tensor {
    return linear(h, this.lm_head?.weight ?? this.model.language_model.embed_tokens.weight);
  }

  forward(input: InternVlInput): InternVlOutput {
    const image = input.pixelValues ? this.imageFeatures(input.pixelValues) : null;
    const inputsEmbeds = this.embed(input.inputIds, image);
    const out = this.model.language_model.forward({
      inputsEmbeds, attentionMask: input.attentionMask ?? null, positionIds: input.positionIds ?? null,
      outputHiddenStates: input.outputHiddenStates ?? false, ...(input.cache ? { cache: input.cache } : {}),
    });
    const logits = this.head(out.lastHiddenState);
    return { logits, loss: input.labels ? causalLmLoss(logits, input.labels) : null, cache: out.cache, inputsEmbeds, textHiddenStates: out.hiddenStates, image };
  }

  /** Greedy continuation (left padding as transformers generate) and the raw logits of each step. */
  generate(inputIds: Tensor, pixelValues: Tensor | null, attentionMask: Tensor | null, maxNewTokens: number): GreedyResult {
    return greedyGenerate(inputIds, attentionMask, maxNewTokens, (s) => {
      const image = s.cache === null && pixelValues ? this.imageFeatures(pixelValues) : null;
      const out = this.model.language_model.forward({
        inputsEmbeds: this.embed(s.inputIds, image), attentionMask: s.attentionMask, positionIds: s.positionIds,
        ...(s.cache ? { cache: s.cache } : {}),
      });
      const T = out.lastHiddenState.shape[1]!;
      return { logits: this.head(slice(out.lastHiddenState, 1, T - 1, T)), cache: out.cache };
    });
  }
}

export function loadInternVl(dir: string, config: Record<string, unknown>): LoadedModel & { module: InternVl } {
  const module = new InternVl(parseInternVlConfig(config, `${dir}/config.json`));
  const report = loadCheckpointInto(module, dir, llavaRuntimeName, new Set(['lm_head.weight']));
  module.eval();
  const arg = (inputs: NamedTensors, name: string): Tensor | null => inputs.get(name) ?? null;
  const ids = (inputs: NamedTensors, what: string): Tensor => {
    const t = inputs.get('input_ids');
    if (!t) throw new Error(`internvl ${what}: inputs need "input_ids"`);
    return t;
  };
  return {
    modelType: 'internvl', dir, config, module,
    forward(inputs: NamedTensors): NamedTensors {
      const out = module.forward({
        inputIds: ids(inputs, 'forward'), pixelValues: arg(inputs, 'pixel_values'), attentionMask: arg(inputs, 'attention_mask'),
        positionIds: arg(inputs, 'position_ids'), labels: arg(inputs, 'labels'),
      });
      const result: NamedTensors = new Map([['logits', out.logits]]);
      if (out.loss) result.set('loss', out.loss);
      return result;
    },
    checkpointKey: (name) => report.keyOf.get(name) ?? llavaCheckpointKey(name),
    generate(inputs: NamedTensors, maxNewTokens: number): number[][] {
      return noGrad(() => module.generate(ids(inputs, 'generate'), arg(inputs, 'pixel_values'), arg(inputs, 'attention_mask'), maxNewTokens).tokens);
    },
  };
}

registerModel(['internvl'], loadInternVl);
