// Kosmos-2 (Peng et al. 2023, "Grounding Multimodal Large Language Models to the World"; transformers
// `Kosmos2ForConditionalGeneration`): a CLIP-like vision tower, whose features are
// F.normalize(post_layernorm(last_hidden_state)) over every token (CLS included); an image-to-text projection
// (`dense`, then one attention with Q learned latent queries attending to cat([dense(features), latent_query])
// without a mask: the eager semantics, README item 18); and the Kosmos-2 text decoder, which writes the Q image rows
// where `image_embeds_position_mask` is 1. Checkpoint keys equal the runtime names here: `vision_model.model.*`,
// `image_to_text_projection.*`, `text_model.model.*` (no lm_head key: tied).
//
// Shapes: B batch, T tokens, N vision tokens, Q latent queries, Cv vision width, C text width, V vocab.

import { Linear } from '../../nn/layers.ts';
import { Module, parameter, type Parameter } from '../../nn/module.ts';
import { normalInit } from '../../nn/init.ts';
import { concat, maximum, noGrad, ones, stack, sum, tensor, type Tensor } from '../../tensor/index.ts';
import { ConfigReader, type Json } from '../../io/hf/config.ts';
import { ClipVisionTower } from '../vision/vit/clip.ts';
import type { VitConfig } from '../vision/vit/config.ts';
import { greedyGenerate, type GreedyResult } from '../llm/generate.ts';
import { Kosmos2Attention, Kosmos2TextModel, parseKosmos2TextConfig, type Kosmos2TextConfig } from '../llm/kosmos2-text.ts';
import { registerModel, type LoadedModel, type NamedTensors } from '../registry.ts';
import { loadCheckpointInto, requireInput } from './whisper.ts';

export interface Kosmos2Config {
  readonly vision: VitConfig;
  readonly text: Kosmos2TextConfig;
  readonly latentQueryNum: number;
}

function section(c: ConfigReader, key: string): Json {
  return c.child(key).obj;
}

export function parseKosmos2Config(json: Json, where = 'config.json'): Kosmos2Config {
  const c = new ConfigReader(json, where);
  const v = c.child('vision_config');
  const hiddenSize = v.int('hidden_size'), numHeads = v.int('num_attention_heads');
  const imageSize = v.int('image_size'), patchSize = v.int('patch_size');
  if (hiddenSize % numHeads) throw new Error(`${v.where}: hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`);
  if (imageSize % patchSize) throw new Error(`${v.where}: image_size ${imageSize} is not a multiple of patch_size ${patchSize}`);
  // The Kosmos-2 vision tower is CLIP's (class token, pre_layrnorm, quick_gelu), under another model_type.
  const vision: VitConfig = Object.freeze({
    kind: 'clip', hiddenSize, numHeads, imageSize, patchSize,
    intermediateSize: v.int('intermediate_size'),
    numLayers: v.int('num_hidden_layers'),
    numChannels: v.int('num_channels', 3),
    layerNormEps: v.num('layer_norm_eps', 1e-5),
    hiddenAct: v.str('hidden_act', 'quick_gelu'),
  });
  const latentQueryNum = c.int('latent_query_num', 64);
  if (latentQueryNum < 1) throw new Error(`${where}: latent_query_num must be positive, got ${latentQueryNum}`);
  return Object.freeze({ vision, text: parseKosmos2TextConfig(section(c, 'text_config'), `${where}:text_config`), latentQueryNum });
}

/** `Kosmos2ImageToTextProjection`: features [B, N, Cv] → image embeddings [B, Q, C]. */
class ImageToTextProjection extends Module {
  dense: Linear;
  latent_query: Parameter;
  x_attn: Kosmos2Attention;
  constructor(cfg: Kosmos2Config) {
    super();
    const C = cfg.text.hiddenSize;
    this.dense = new Linear(cfg.vision.hiddenSize, C);
    this.latent_query = parameter([cfg.latentQueryNum, C], normalInit(1));
    this.x_attn = new Kosmos2Attention(C, cfg.text.numHeads, null);
  }
  forward(features: Tensor): Tensor {
    const B = features.shape[0]!, [Q, C] = this.latent_query.shape as [number, number];
    const h = this.dense.forward(features); // [B, N, C]
    const queries = this.latent_query.reshape([1, Q, C]).expand([B, Q, C]); // [B, Q, C]
    // Eager attention: every query sees all N + Q keys (transformers' SDPA path would apply a causal mask here).
    return this.x_attn.forward(queries, concat([h, queries], 1), { causal: false, mask: null, past: null }).out;
  }
}

class VisionModel extends Module {
  model: ClipVisionTower;
  constructor(cfg: VitConfig) { super(); this.model = new ClipVisionTower(cfg); }
}

class TextForCausalLm extends Module {
  model: Kosmos2TextModel;
  constructor(cfg: Kosmos2TextConfig) { super(); this.model = new Kosmos2TextModel(cfg); }
}

export interface Kosmos2ImageStages {
  visionHiddenStates: Tensor[]; // each [B, N, Cv]
  visionLastHiddenState: Tensor; // [B, N, Cv]
  imageFeaturesNormalized: Tensor; // [B, N, Cv]
  imageEmbeds: Tensor; // [B, Q, C]
}

export interface Kosmos2Output extends Kosmos2ImageStages {
  textHiddenStates: Tensor[]; // each [B, T, C]
  positionIds: number[][];
  logits: Tensor; // [B, T, V]
}

export class Kosmos2 extends Module {
  text_model: TextForCausalLm;
  vision_model: VisionModel;
  image_to_text_projection: ImageToTextProjection;
  constructor(readonly config: Kosmos2Config) {
    super();
    this.text_model = new TextForCausalLm(config.text);
    this.vision_model = new VisionModel(config.vision);
    this.image_to_text_projection = new ImageToTextProjection(config);
  }

  encodeImages(pixels: Tensor): Kosmos2ImageStages {
    const v = this.vision_model.model.forward(pixels);
    const last = v.lastHiddenState!; // [B, N, Cv]
    const post = this.vision_model.model.post_layernorm.forward(last);
    // F.normalize(x, dim=-1): x / max(‖x‖₂, 1e-12)
    const normalized = post.div(maximum(sum(post.square(), -1, true).sqrt(), 1e-12));
    return {
      visionHiddenStates: v.hiddenStates, visionLastHiddenState: last,
      imageFeaturesNormalized: normalized, imageEmbeds: this.image_to_text_projection.forward(normalized),
    };
  }

  forward(pixels: Tensor, ids: Tensor, attentionMask: Tensor | null, imagePositionMask: Tensor): Kosmos2Output {
    const stages = this.encodeImages(pixels);
    const t = this.text_model.model.forward({
      inputIds: ids, imageEmbeds: stages.imageEmbeds, imageEmbedsPositionMask: imagePositionMask, attentionMask,
    });
    return { ...stages, textHiddenStates: t.hiddenStates, positionIds: t.positionIds, logits: t.logits };
  }

  /**
   * Greedy decoding as transformers `generate`: the image rows enter on the first step only, and each new token's
   * position follows HF's rule (pad + 1 + cached length, left pads included), so a left-padded row drifts from
   * its unpadded run exactly as in transformers.
   */
  generate(pixels: Tensor, ids: Tensor, attentionMask: Tensor | null, imagePositionMask: Tensor, maxNewTokens: number): GreedyResult {
    return noGrad(() => {
      const imageEmbeds = this.encodeImages(pixels).imageEmbeds;
      const text = this.text_model.model;
      return greedyGenerate(ids, attentionMask ?? ones(ids.shape, 'int32'), maxNewTokens, (step) => {
        const first = step.cache === null;
        const r = text.forward({
          inputIds: step.inputIds, attentionMask: step.attentionMask, cache: step.cache,
          imageEmbeds: first ? imageEmbeds : null, imageEmbedsPositionMask: first ? imagePositionMask : null,
        });
        return { logits: r.logits, cache: r.cache };
      }, null);
    });
  }
}

export function loadKosmos2(dir: string, raw: Record<string, unknown>): LoadedModel {
  const model = new Kosmos2(parseKosmos2Config(raw, `${dir}/config.json`)).eval();
  loadCheckpointInto(model, dir, (name) => name);
  const inputsOf = (inputs: NamedTensors): [Tensor, Tensor, Tensor | null, Tensor] => [
    requireInput(inputs, 'pixel_values', 'kosmos-2'), requireInput(inputs, 'input_ids', 'kosmos-2'),
    inputs.get('attention_mask') ?? null, requireInput(inputs, 'image_embeds_position_mask', 'kosmos-2'),
  ];
  const forward = (inputs: NamedTensors): NamedTensors => {
    const o = model.forward(...inputsOf(inputs));
    const [B, T] = o.logits.shape as [number, number];
    return new Map([
      ['vision_hidden_states', stack(o.visionHiddenStates, 0)],
      ['vision_last_hidden_state', o.visionLastHiddenState],
      ['image_features_normalized', o.imageFeaturesNormalized],
      ['image_embeds', o.imageEmbeds],
      ['text_position_ids', tensor(o.positionIds.flat(), { shape: [B, T], dtype: 'int32' })],
      ['text_hidden_states', stack(o.textHiddenStates, 0)],
      ['logits', o.logits],
    ]);
  };
  const generate = (inputs: NamedTensors, maxNewTokens: number): number[][] => model.generate(...inputsOf(inputs), maxNewTokens).tokens;
  return { modelType: 'kosmos-2', dir, config: raw, module: model, forward, checkpointKey: (n) => n, generate };
}

registerModel(['kosmos-2'], loadKosmos2);
