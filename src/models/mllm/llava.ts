// LLaVA (Liu et al. 2023; transformers `LlavaForConditionalGeneration`): a CLIP/SigLIP vision tower, a projector,
// and a Llama/Qwen2 decoder. Image features are taken from `vision_feature_layer` of the tower's hidden states
// (a list of layers is concatenated on channels), the CLS token is dropped with strategy "default", projected,
// and spliced over the image tokens that the processor already expanded in input_ids.
// Parameter names are the transformers runtime names (`model.vision_tower.*`, `model.multi_modal_projector.*`,
// `model.language_model.*`, `lm_head.weight`); src/io/hf/llava-weights.ts maps checkpoint keys onto them.
//
// Shapes: B batch, T tokens, I images, N image tokens per image, Cv vision width, C text width, V vocab.

import { Linear } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';
import { concat, crossEntropy, linear, noGrad, slice, where, compareOp, type Tensor } from '../../tensor/index.ts';
import { ConfigReader, type Json } from '../../io/hf/config.ts';
import { llavaCheckpointKey, llavaRuntimeName, loadCheckpointInto } from '../../io/hf/llava-weights.ts';
import type { KVCache } from '../llm/cache.ts';
import { parseLlmConfig, type LlmConfig } from '../llm/config.ts';
import { DecoderModel } from '../llm/decoder.ts';
import { greedyGenerate, type GreedyResult } from '../llm/generate.ts';
import { MlpProjector } from '../projector/mlp.ts';
import type { VisionOutput, VisionTower } from '../vision/vit/encoder.ts';
import { buildVisionTower } from '../vision/vit/tower.ts';
import { registerModel, type LoadedModel, type NamedTensors } from '../registry.ts';
import { spliceFeatures } from './splice.ts';

export interface LlavaConfig {
  readonly text: LlmConfig;
  readonly visionJson: Json;
  readonly imageTokenId: number;
  /** Index (or indices) into the vision hidden states; negative counts from the end. */
  readonly visionFeatureLayer: number | readonly number[];
  readonly visionFeatureSelectStrategy: 'default' | 'full';
  readonly projectorHiddenAct: string;
  readonly projectorBias: boolean;
  readonly tieWordEmbeddings: boolean;
}

export function parseLlavaConfig(json: Json, where = 'config.json'): LlavaConfig {
  const c = new ConfigReader(json, where);
  const textJson = c.child('text_config').obj, visionJson = c.child('vision_config').obj;
  const tie = c.has('tie_word_embeddings') ? c.bool('tie_word_embeddings') : null;
  const text = parseLlmConfig(tie === null ? textJson : { ...textJson, tie_word_embeddings: tie }, `${where}:text_config`);
  const strategy = c.str('vision_feature_select_strategy', 'default');
  if (strategy !== 'default' && strategy !== 'full') throw new Error(`${where}: vision_feature_select_strategy "${strategy}" must be "default" or "full"`);
  const imageTokenId = c.has('image_token_id') ? c.int('image_token_id') : c.int('image_token_index', 32000);
  return Object.freeze({
    text, visionJson, imageTokenId,
    visionFeatureLayer: c.intOrInts('vision_feature_layer', -2),
    visionFeatureSelectStrategy: strategy,
    projectorHiddenAct: c.str('projector_hidden_act', 'gelu'),
    projectorBias: c.bool('multimodal_projector_bias', true),
    tieWordEmbeddings: text.tieWordEmbeddings,
  });
}

export interface LlavaInput {
  inputIds: Tensor;
  pixelValues?: Tensor | null;
  attentionMask?: Tensor | null;
  positionIds?: Tensor | null;
  labels?: Tensor | null;
  cache?: KVCache;
  outputHiddenStates?: boolean;
}

export interface ImageFeatures {
  readonly vision: VisionOutput;
  /** [I, N, Cv·layers] projector input. */
  readonly selected: Tensor;
  /** [I, N, C] */
  readonly projected: Tensor;
}

export interface LlavaOutput {
  logits: Tensor; // [B, T, V]
  loss: Tensor | null;
  cache: KVCache;
  inputsEmbeds: Tensor; // [B, T, C]
  textHiddenStates: Tensor[] | null;
  image: ImageFeatures | null;
}

/** `model.*`: the three parts, named as transformers' LlavaModel. */
class LlavaBody extends Module {
  vision_tower: VisionTower;
  multi_modal_projector: MlpProjector;
  language_model: DecoderModel;
  constructor(cfg: LlavaConfig, layers: readonly number[]) {
    super();
    this.vision_tower = buildVisionTower(cfg.visionJson);
    this.multi_modal_projector = new MlpProjector({
      inFeatures: this.vision_tower.cfg.hiddenSize * layers.length, outFeatures: cfg.text.hiddenSize,
      act: cfg.projectorHiddenAct, bias: cfg.projectorBias,
    });
    this.language_model = new DecoderModel(cfg.text);
  }
}

export class Llava extends Module {
  model: LlavaBody;
  lm_head: Linear | null;
  /** vision_feature_layer as non-negative indices into the hidden-states list. */
  readonly featureLayers: readonly number[];
  constructor(readonly cfg: LlavaConfig) {
    super();
    const depth = parseVitDepth(cfg.visionJson);
    const raw = typeof cfg.visionFeatureLayer === 'number' ? [cfg.visionFeatureLayer] : cfg.visionFeatureLayer;
    this.featureLayers = raw.map((i) => {
      const j = i < 0 ? depth + 1 + i : i;
      if (j < 0 || j > depth) throw new Error(`config.json: vision_feature_layer ${i} is outside the ${depth + 1} vision hidden states`);
      return j;
    });
    this.model = new LlavaBody(cfg, this.featureLayers);
    this.lm_head = cfg.tieWordEmbeddings ? null : new Linear(cfg.text.hiddenSize, cfg.text.vocabSize, { bias: false });
  }

  /** pixels [I, 3, H, W] → features of the selected layers, projected. Later vision layers are never run. */
  imageFeatures(pixels: Tensor): ImageFeatures {
    const vision = this.model.vision_tower.forward(pixels, Math.max(...this.featureLayers));
    const drop = this.cfg.visionFeatureSelectStrategy === 'default';
    const picked = this.featureLayers.map((i) => {
      const h = vision.hiddenStates[i]!; // [I, N(+1), Cv]
      return drop ? slice(h, 1, 1) : h;
    });
    const selected = picked.length === 1 ? picked[0]! : concat(picked, -1); // [I, N, Cv·layers]
    return { vision, selected, projected: this.model.multi_modal_projector.forward(selected) };
  }

  /** Token embeddings with image features over the image tokens. [B, T] → [B, T, C] */
  embed(inputIds: Tensor, image: ImageFeatures | null): Tensor {
    const { imageTokenId, text } = this.cfg;
    // An image id past the vocabulary (as in llava-1.5) is looked up as 0; the row is replaced anyway.
    const ids = imageTokenId >= text.vocabSize ? where(compareOp('eq', inputIds, imageTokenId), 0, inputIds.to('float32')).to('int32') : inputIds;
    const embeds = this.model.language_model.embed(ids);
    if (!image) {
      if (inputIds.toList().includes(imageTokenId)) throw new Error(`llava: input_ids hold image tokens (id ${imageTokenId}) but no pixel_values were given`);
      return embeds;
    }
    const [I, N, C] = image.projected.shape as [number, number, number];
    return spliceFeatures(embeds, inputIds, imageTokenId, image.projected.reshape([I * N, C]));
  }

  /** [.., C] → [.., V] */
  head(h: Tensor): Tensor {
    return linear(h, this.lm_head?.weight ?? this.model.language_model.embed_tokens.weight);
  }

  forward(input: LlavaInput): LlavaOutput {
    const image = input.pixelValues ? this.imageFeatures(input.pixelValues) : null;
    const inputsEmbeds = this.embed(input.inputIds, image);
    const out = this.model.language_model.forward({
      inputsEmbeds, attentionMask: input.attentionMask ?? null, positionIds: input.positionIds ?? null,
      outputHiddenStates: input.outputHiddenStates ?? false, ...(input.cache ? { cache: input.cache } : {}),
    });
    const logits = this.head(out.lastHiddenState);
    return { logits, loss: input.labels ? causalLmLoss(logits, input.labels) : null, cache: out.cache, inputsEmbeds, textHiddenStates: out.hiddenStates, image };
  }

  /** Greedy continuation (new tokens) and the raw logits of each step. */
  generate(inputIds: Tensor, pixelValues: Tensor | null, attentionMask: Tensor | null, maxNewTokens: number): GreedyResult {
    return greedyGenerate(inputIds, attentionMask, maxNewTokens, (s) => {
      const first = s.cache === null;
      const image = first && pixelValues ? this.imageFeatures(pixelValues) : null;
      const out = this.model.language_model.forward({
        inputsEmbeds: this.embed(s.inputIds, image), attentionMask: s.attentionMask, positionIds: s.positionIds,
        ...(s.cache ? { cache: s.cache } : {}),
      });
      const T = out.lastHiddenState.shape[1]!;
      return { logits: this.head(slice(out.lastHiddenState, 1, T - 1, T)), cache: out.cache };
    });
  }
}

function parseVitDepth(json: Json): number {
  return new ConfigReader(json, 'config.json:vision_config').int('num_hidden_layers');
}

/** transformers ForCausalLMLoss: predict token t+1 from position t; mean over all labels != -100 in the batch. */
export function causalLmLoss(logits: Tensor, labels: Tensor): Tensor {
  const [B, T, V] = logits.shape as [number, number, number];
  if (labels.ndim !== 2 || labels.shape[0] !== B || labels.shape[1] !== T) throw new Error(`llava: labels [${labels.shape.join(', ')}] should be [${B}, ${T}]`);
  const shifted = slice(logits, 1, 0, T - 1).reshape([B * (T - 1), V]);
  return crossEntropy(shifted, slice(labels, 1, 1).reshape([B * (T - 1)]), { ignoreIndex: -100 });
}

function tensorArg(inputs: NamedTensors, name: string): Tensor | null {
  return inputs.get(name) ?? null;
}

export function loadLlava(dir: string, config: Record<string, unknown>): LoadedModel & { module: Llava } {
  const cfg = parseLlavaConfig(config, `${dir}/config.json`);
  const module = new Llava(cfg);
  const report = loadCheckpointInto(module, dir, llavaRuntimeName, new Set(['lm_head.weight']));
  module.eval();
  return {
    modelType: 'llava', dir, config, module,
    forward(inputs: NamedTensors): NamedTensors {
      const inputIds = tensorArg(inputs, 'input_ids');
      if (!inputIds) throw new Error('llava forward: inputs need "input_ids"');
      const labels = tensorArg(inputs, 'labels');
      const out = module.forward({
        inputIds, pixelValues: tensorArg(inputs, 'pixel_values'), attentionMask: tensorArg(inputs, 'attention_mask'),
        positionIds: tensorArg(inputs, 'position_ids'), labels,
      });
      const result: NamedTensors = new Map([['logits', out.logits]]);
      if (out.loss) result.set('loss', out.loss);
      return result;
    },
    checkpointKey: (name) => report.keyOf.get(name) ?? llavaCheckpointKey(name),
    generate(inputs: NamedTensors, maxNewTokens: number): number[][] {
      const inputIds = tensorArg(inputs, 'input_ids');
      if (!inputIds) throw new Error('llava generate: inputs need "input_ids"');
      return noGrad(() => module.generate(inputIds, tensorArg(inputs, 'pixel_values'), tensorArg(inputs, 'attention_mask'), maxNewTokens).tokens);
    },
  };
}

registerModel(['llava'], loadLlava);
