// LLaVA (Liu et al. 2023; transformers `LlavaForConditionalGeneration`): a CLIP/SigLIP vision tower, a projector,
// and a Llama/Qwen2 decoder. Image features are taken from `vision_feature_layer` of the tower's hidden states
// (a list of layers is concatenated on channels), the CLS token is dropped with strategy "default", projected,
// and spliced over the image tokens that the processor already expanded in input_ids.
// Parameter names are the transformers runtime names (`model.vision_tower.*`, `model.multi_modal_projector.*`,
// `model.language_model.*`, `lm_head.weight`); src/io/hf/llava-weights.ts maps checkpoint keys onto them.
// The splice, head, forward (with loss) and greedy generate are the shared ones of ./vlm.ts.
//
// Shapes: B batch, T tokens, I images, N image tokens per image, Cv vision width, C text width, V vocab.

import type { Linear } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';
import { concat, slice, where, compareOp, type Tensor } from '../../tensor/index.ts';
import { ConfigReader, type Json } from '../../io/hf/config.ts';
import { llavaCheckpointKey, llavaRuntimeName, loadCheckpointInto } from '../../io/hf/llava-weights.ts';
import type { LlmConfig } from '../llm/config.ts';
import { DecoderModel } from '../llm/decoder.ts';
import { MlpProjector } from '../projector/mlp.ts';
import type { VisionOutput, VisionTower } from '../vision/vit/encoder.ts';
import { buildVisionTower } from '../vision/vit/tower.ts';
import { registerModel, type LoadedModel } from '../registry.ts';
import { lmHead, namedVlmInput, parseVlmTextConfig, PixelValuesVlm, vlmEntryPoints, type DecoderVlmInput, type DecoderVlmOutput, type ImageRows } from './vlm.ts';

// Kept here for the files that import the loss from LLaVA.
export { causalLmLoss } from './vlm.ts';

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
  const text = parseVlmTextConfig(c, where), visionJson = c.child('vision_config').obj;
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

export type LlavaInput = DecoderVlmInput;

export interface ImageFeatures extends ImageRows {
  readonly vision: VisionOutput;
  /** [I, N, Cv·layers] projector input. */
  readonly selected: Tensor;
}

export type LlavaOutput = DecoderVlmOutput<ImageFeatures>;

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

export class Llava extends PixelValuesVlm<ImageFeatures> {
  model: LlavaBody;
  lm_head: Linear | null;
  /** vision_feature_layer as non-negative indices into the hidden-states list. */
  readonly featureLayers: readonly number[];
  constructor(readonly cfg: LlavaConfig) {
    super({ model: 'llava', imageTokens: 'image tokens' });
    const depth = parseVitDepth(cfg.visionJson);
    const raw = typeof cfg.visionFeatureLayer === 'number' ? [cfg.visionFeatureLayer] : cfg.visionFeatureLayer;
    this.featureLayers = raw.map((i) => {
      const j = i < 0 ? depth + 1 + i : i;
      if (j < 0 || j > depth) throw new Error(`config.json: vision_feature_layer ${i} is outside the ${depth + 1} vision hidden states`);
      return j;
    });
    this.model = new LlavaBody(cfg, this.featureLayers);
    this.lm_head = lmHead(cfg.text);
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

  get decoder(): DecoderModel {
    return this.model.language_model;
  }

  /** An image id past the vocabulary (as in llava-1.5) is looked up as 0; the row is replaced anyway. */
  protected override tokenEmbeds(inputIds: Tensor): Tensor {
    const { imageTokenId, text } = this.cfg;
    const ids = imageTokenId >= text.vocabSize ? where(compareOp('eq', inputIds, imageTokenId), 0, inputIds.to('float32')).to('int32') : inputIds;
    return this.decoder.embed(ids);
  }
}

function parseVitDepth(json: Json): number {
  return new ConfigReader(json, 'config.json:vision_config').int('num_hidden_layers');
}

export function loadLlava(dir: string, config: Record<string, unknown>): LoadedModel & { module: Llava } {
  const cfg = parseLlavaConfig(config, `${dir}/config.json`);
  const module = new Llava(cfg);
  const report = loadCheckpointInto(module, dir, llavaRuntimeName, new Set(['lm_head.weight']));
  module.eval();
  return {
    modelType: 'llava', dir, config, module, ...vlmEntryPoints('llava', module, namedVlmInput),
    checkpointKey: (name) => report.keyOf.get(name) ?? llavaCheckpointKey(name),
  };
}

registerModel(['llava'], loadLlava);
