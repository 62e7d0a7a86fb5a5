// Idefics3 (Laurençon et al. 2024; transformers `Idefics3ForConditionalGeneration`): a SigLIP-style vision
// transformer whose `last_hidden_state` has `post_layernorm` applied, a pixel-shuffle connector
// (`connector.modality_projection.proj`, no bias), and a Llama decoder. Each image gives (g/s)² features that fill
// the image tokens of `input_ids` in row-major order across the batch (the processor expanded them already).
// Vision positions follow Idefics3VisionEmbeddings' bucketing of fractional patch coordinates, so images smaller
// than `image_size` reuse the trained table; every patch is treated as valid (no pixel_attention_mask).
// Parameter names are the checkpoint keys: `model.vision_model.*`, `model.connector.*`, `model.text_model.*`, `lm_head.weight`.
// The splice, head, forward (with loss) and greedy generate are the shared ones of ./vlm.ts.
//
// Shapes: B batch, I images per row, P patch, g patches per side, N = g² vision tokens, Cv vision width,
// M = N/s² image tokens, C text width, T tokens, V vocab.

import { Conv2d, Embedding, LayerNorm, Linear } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';
import { slice, stack, tensor, type Tensor } from '../../tensor/index.ts';
import { ConfigReader, type Json } from '../../io/hf/config.ts';
import { loadCheckpointInto } from '../../io/hf/llava-weights.ts';
import type { LlmConfig } from '../llm/config.ts';
import { DecoderModel } from '../llm/decoder.ts';
import { parseVitConfig, type VitConfig } from '../vision/vit/config.ts';
import { VitEncoder } from '../vision/vit/encoder.ts';
import { PixelShuffleProjector } from '../projector/pixel-shuffle.ts';
import { registerModel, type LoadedModel, type NamedTensors } from '../registry.ts';
import { DecoderVlm, lmHead, namedVlmInput, parseVlmTextConfig, type DecoderVlmInput, type ImageRows } from './vlm.ts';

export interface Idefics3Config {
  readonly vision: VitConfig;
  readonly text: LlmConfig;
  readonly imageTokenId: number;
  readonly scaleFactor: number;
}

export function parseIdefics3Config(json: Json, where = 'config.json'): Idefics3Config {
  const c = new ConfigReader(json, where);
  const text = parseVlmTextConfig(c, where);
  // The Idefics3 vision config is SigLIP's under another model_type (and defaults).
  const vision = parseVitConfig({ ...c.child('vision_config').obj, model_type: 'siglip_vision_model' }, `${where}:vision_config`);
  const scaleFactor = c.int('scale_factor', 2);
  if ((vision.imageSize / vision.patchSize) % scaleFactor) {
    throw new Error(`${where}: patches per side ${vision.imageSize / vision.patchSize} is not a multiple of scale_factor ${scaleFactor}`);
  }
  return Object.freeze({ vision, text, scaleFactor, imageTokenId: c.int('image_token_id', 128257) });
}

/**
 * Position id of each patch of a gh×gw grid in a table of side n (Idefics3VisionEmbeddings): the fractional
 * coordinate h·(1/gh), in float32 as HF, is bucketed against the boundaries k/n (k = 1..n−1).
 */
export function idefics3PositionIds(gh: number, gw: number, n: number): Int32Array {
  const boundaries = Array.from({ length: n - 1 }, (_, k) => Math.fround((k + 1) / n));
  const bucket = (i: number, g: number): number => {
    const f = Math.min(Math.fround(i * Math.fround(1 / g)), Math.fround(1 - 1e-6));
    return boundaries.filter((b) => b <= f).length;
  };
  const out = new Int32Array(gh * gw);
  for (let i = 0; i < gh; i++) for (let j = 0; j < gw; j++) out[i * gw + j] = bucket(i, gh) * n + bucket(j, gw);
  return out;
}

class VisionEmbeddings extends Module {
  patch_embedding: Conv2d;
  position_embedding: Embedding;
  constructor(private readonly cfg: VitConfig) {
    super();
    const n = cfg.imageSize / cfg.patchSize;
    this.patch_embedding = new Conv2d(cfg.numChannels, cfg.hiddenSize, cfg.patchSize, { stride: cfg.patchSize });
    this.position_embedding = new Embedding(n * n, cfg.hiddenSize);
  }
  /** [I, 3, H, W] → [I, N, Cv] */
  forward(pixels: Tensor): Tensor {
    const { patchSize: P, imageSize, numChannels, hiddenSize: C } = this.cfg;
    const [I, ch, H, W] = pixels.shape as [number, number, number, number];
    if (pixels.ndim !== 4 || ch !== numChannels || H % P || W % P || H > imageSize || W > imageSize) {
      throw new Error(`idefics3 vision: images must be [I, ${numChannels}, H, W] with H, W multiples of ${P} up to ${imageSize}, got [${pixels.shape.join(', ')}]`);
    }
    const x = this.patch_embedding.forward(pixels).flatten(2).transpose(1, 2); // [I, N, Cv]
    const ids = idefics3PositionIds(H / P, W / P, imageSize / P);
    const pos = this.position_embedding.forward(tensor(ids, { shape: [ids.length], dtype: 'int32' })); // [N, Cv]
    return x.add(pos.reshape([1, ids.length, C]));
  }
}

/** `model.vision_model`: embeddings → encoder → post_layernorm (no pooling head). */
export class Idefics3VisionTransformer extends Module {
  embeddings: VisionEmbeddings;
  encoder: VitEncoder;
  post_layernorm: LayerNorm;
  constructor(readonly cfg: VitConfig) {
    super();
    this.embeddings = new VisionEmbeddings(cfg);
    this.encoder = new VitEncoder(cfg);
    this.post_layernorm = new LayerNorm(cfg.hiddenSize, cfg.layerNormEps);
  }
  /** [I, 3, H, W] → last_hidden_state [I, N, Cv] */
  forward(pixels: Tensor): Tensor {
    const states = this.encoder.forward(this.embeddings.forward(pixels));
    return this.post_layernorm.forward(states[states.length - 1]!);
  }
}

class Idefics3Body extends Module {
  vision_model: Idefics3VisionTransformer;
  connector: PixelShuffleProjector;
  text_model: DecoderModel;
  constructor(cfg: Idefics3Config) {
    super();
    this.vision_model = new Idefics3VisionTransformer(cfg.vision);
    this.connector = new PixelShuffleProjector(cfg.vision.hiddenSize, cfg.text.hiddenSize, cfg.scaleFactor);
    this.text_model = new DecoderModel(cfg.text);
  }
}

export class Idefics3 extends DecoderVlm<DecoderVlmInput, ImageRows> {
  model: Idefics3Body;
  lm_head: Linear | null;
  constructor(readonly cfg: Idefics3Config) {
    super({ model: 'idefics3', imageTokens: 'image tokens' });
    this.model = new Idefics3Body(cfg);
    this.lm_head = lmHead(cfg.text);
  }

  /** pixels [B, I, 3, H, W] (all-zero padding images skipped, as HF) → [images, M, C] */
  imageFeatures(pixels: Tensor): Tensor {
    if (pixels.ndim !== 5) throw new Error(`idefics3: pixel_values must be [B, images, 3, H, W], got [${pixels.shape.join(', ')}]`);
    const [B, I, ...chw] = pixels.shape as [number, number, number, number, number];
    const flat = pixels.reshape([B * I, ...chw]);
    const values = flat.toFloat64(), per = chw[0] * chw[1] * chw[2];
    const real: Tensor[] = [];
    for (let i = 0; i < B * I; i++) {
      if (values.subarray(i * per, i * per + per).some((v) => v !== 0)) real.push(slice(flat, 0, i, i + 1).squeeze(0));
    }
    if (real.length === 0) throw new Error('idefics3: every image in pixel_values is all zeros (padding)');
    return this.model.connector.forward(this.model.vision_model.forward(stack(real, 0))); // [images, M, C]
  }

  get decoder(): DecoderModel {
    return this.model.text_model;
  }

  /** The connector output [images, M, C] is what gets spliced (HF's image_hidden_states). */
  protected imagesOf(input: DecoderVlmInput): ImageRows | null {
    return input.pixelValues ? { projected: this.imageFeatures(input.pixelValues) } : null;
  }
}

export function loadIdefics3(dir: string, config: Record<string, unknown>): LoadedModel & { module: Idefics3 } {
  const module = new Idefics3(parseIdefics3Config(config, `${dir}/config.json`));
  const report = loadCheckpointInto(module, dir, (key) => key, new Set(['lm_head.weight']));
  module.eval();
  return {
    modelType: 'idefics3', dir, config, module,
    forward(inputs: NamedTensors): NamedTensors {
      const out = module.forward(namedVlmInput(inputs, 'idefics3 forward'));
      const result: NamedTensors = new Map([['logits', out.logits]]);
      if (out.loss) result.set('loss', out.loss);
      if (out.image) result.set('image_hidden_states', out.image.projected);
      return result;
    },
    checkpointKey: (name) => report.keyOf.get(name) ?? name,
  };
}

registerModel(['idefics3'], loadIdefics3);
