// The Mllama (Llama 3.2 Vision) tiled vision encoder (transformers `MllamaVisionModel`; fixtures/hf README item 19).
// Per image: a biasless patch conv on every tile, + a gated pre-tile embedding chosen by aspect_ratio_id (patches
// only), a class token, + (1 − tanh g)·positions + tanh g·tile_positions[aspect_ratio_id], layernorm_pre, zero-padding
// of each tile to a multiple of 8 tokens, a local transformer over the concatenated tiles, layernorm_post, + a gated
// post-tile embedding, and a global transformer whose residual branches are scaled by tanh(gate_attn), tanh(gate_ffn).
// The output is cat([global output, the local layers at intermediate_layers_indices stacked on a last axis and
// flattened]) so the intermediate channels are interleaved: channel D + d·n + k is channel d of layer k.
//
// Attention is eager and in float32 with HF's additive mask: finfo(float32).min where BOTH query and key are
// padding (a pad token or a tile masked out by aspect_ratio_mask), 0 elsewhere. Adding finfo.min in float32 swallows
// the score, so an image whose tiles are all masked (an empty slot) attends uniformly, as in transformers.
//
// Shapes: B batch, I images per row, T tiles, P patches, N = P + 1 tokens, Np padded tokens, M = B·I, D hidden.

import { Conv2d, Embedding, LayerNorm, Linear } from '../../nn/layers.ts';
import { Module, parameter, type Parameter } from '../../nn/module.ts';
import { normalInit } from '../../nn/init.ts';
import { concat, matmul, pad, slice, softmax, stack, tensor, type Tensor } from '../../tensor/index.ts';
import { ConfigReader, type Json } from '../../io/hf/config.ts';
import { activation, type Activation } from '../../io/hf/activations.ts';

export interface MllamaVisionConfig {
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numGlobalLayers: number;
  readonly numHeads: number;
  readonly numChannels: number;
  readonly imageSize: number;
  readonly patchSize: number;
  readonly maxNumTiles: number;
  readonly numAspectRatios: number;
  readonly intermediateLayers: readonly number[];
  readonly normEps: number;
  readonly hiddenAct: string;
  readonly outputDim: number;
}

export function parseMllamaVisionConfig(json: Json, where = 'config.json:vision_config'): MllamaVisionConfig {
  const c = new ConfigReader(json, where);
  const hiddenSize = c.int('hidden_size'), numHeads = c.int('attention_heads');
  if (hiddenSize % numHeads) throw new Error(`${where}: hidden_size ${hiddenSize} is not divisible by attention_heads ${numHeads}`);
  const imageSize = c.int('image_size'), patchSize = c.int('patch_size');
  if (imageSize % patchSize) throw new Error(`${where}: image_size ${imageSize} is not a multiple of patch_size ${patchSize}`);
  const numLayers = c.int('num_hidden_layers');
  const inter = c.intOrInts('intermediate_layers_indices', 0);
  const intermediateLayers = Array.isArray(inter) ? inter : [inter];
  if (intermediateLayers.some((i) => i < 0 || i >= numLayers)) throw new Error(`${where}: intermediate_layers_indices ${JSON.stringify(inter)} must lie in [0, ${numLayers})`);
  const ratios = c.obj.supported_aspect_ratios;
  if (!Array.isArray(ratios) || ratios.length === 0) throw new Error(`${where}: field "supported_aspect_ratios" must be a non-empty list`);
  const outputDim = c.int('vision_output_dim', hiddenSize * (1 + intermediateLayers.length));
  if (outputDim !== hiddenSize * (1 + intermediateLayers.length)) {
    throw new Error(`${where}: vision_output_dim ${outputDim} should be hidden_size·(1 + ${intermediateLayers.length} intermediate layers)`);
  }
  return Object.freeze({
    hiddenSize, numHeads, imageSize, patchSize, numLayers, intermediateLayers, outputDim,
    intermediateSize: c.int('intermediate_size'),
    numGlobalLayers: c.int('num_global_layers'),
    numChannels: c.int('num_channels', 3),
    maxNumTiles: c.int('max_num_tiles'),
    numAspectRatios: ratios.length,
    normEps: c.num('norm_eps', 1e-5),
    hiddenAct: c.str('hidden_act', 'gelu'),
  });
}

const float32Min = -3.4028234663852886e38;

class VisionAttention extends Module {
  q_proj: Linear; k_proj: Linear; v_proj: Linear; o_proj: Linear;
  constructor(D: number, private readonly numHeads: number) {
    super();
    this.q_proj = new Linear(D, D, { bias: false });
    this.k_proj = new Linear(D, D, { bias: false });
    this.v_proj = new Linear(D, D, { bias: false });
    this.o_proj = new Linear(D, D, { bias: false });
  }
  /** x [M, L, D], mask [M, 1, L, L] additive float32. */
  forward(x: Tensor, mask: Tensor): Tensor {
    const [M, L, D] = x.shape as [number, number, number];
    const H = this.numHeads, Dh = D / H;
    const heads = (t: Tensor): Tensor => t.reshape([M, L, H, Dh]).transpose(1, 2); // [M, H, L, Dh]
    const scores = matmul(heads(this.q_proj.forward(x)), heads(this.k_proj.forward(x)).transpose(2, 3)).mul(1 / Math.sqrt(Dh)); // [M, H, L, L]
    const y = matmul(softmax(scores.add(mask), -1), heads(this.v_proj.forward(x))); // [M, H, L, Dh]
    return this.o_proj.forward(y.transpose(1, 2).reshape([M, L, D]));
  }
}

class VisionMlp extends Module {
  fc1: Linear; fc2: Linear;
  constructor(D: number, inner: number, private readonly act: Activation) {
    super();
    this.fc1 = new Linear(D, inner);
    this.fc2 = new Linear(inner, D);
  }
  forward(x: Tensor): Tensor { return this.fc2.forward(this.act(this.fc1.forward(x))); }
}

class EncoderLayer extends Module {
  self_attn: VisionAttention; mlp: VisionMlp; input_layernorm: LayerNorm; post_attention_layernorm: LayerNorm;
  gate_attn: Parameter | null; gate_ffn: Parameter | null;
  constructor(cfg: MllamaVisionConfig, gated: boolean) {
    super();
    this.self_attn = new VisionAttention(cfg.hiddenSize, cfg.numHeads);
    this.mlp = new VisionMlp(cfg.hiddenSize, cfg.intermediateSize, activation(cfg.hiddenAct, 'vision_config.hidden_act'));
    this.input_layernorm = new LayerNorm(cfg.hiddenSize, cfg.normEps);
    this.post_attention_layernorm = new LayerNorm(cfg.hiddenSize, cfg.normEps);
    this.gate_attn = gated ? parameter([1], normalInit(0.1)) : null;
    this.gate_ffn = gated ? parameter([1], normalInit(0.1)) : null;
  }
  forward(x: Tensor, mask: Tensor): Tensor {
    let a = this.self_attn.forward(this.input_layernorm.forward(x), mask);
    if (this.gate_attn) a = a.mul(this.gate_attn.tanh());
    const h = x.add(a);
    let f = this.mlp.forward(this.post_attention_layernorm.forward(h));
    if (this.gate_ffn) f = f.mul(this.gate_ffn.tanh());
    return h.add(f);
  }
}

class Encoder extends Module {
  layers: EncoderLayer[];
  constructor(cfg: MllamaVisionConfig, n: number, gated: boolean) {
    super();
    this.layers = Array.from({ length: n }, () => new EncoderLayer(cfg, gated));
  }
  /** The output of every layer. */
  forward(x: Tensor, mask: Tensor): Tensor[] {
    const outs: Tensor[] = [];
    for (const layer of this.layers) outs.push(layer.forward(outs[outs.length - 1] ?? x, mask));
    return outs;
  }
}

/** `MllamaPrecomputedAspectRatioEmbedding`: a gated [T, D] offset per aspect ratio, added to every token of a tile. */
class AspectRatioEmbedding extends Module {
  embedding: Embedding;
  gate: Parameter;
  constructor(private readonly cfg: MllamaVisionConfig) {
    super();
    this.embedding = new Embedding(cfg.numAspectRatios + 1, cfg.maxNumTiles * cfg.hiddenSize);
    this.gate = parameter([1], normalInit(0.1));
  }
  /** x [M, T, L, D], ids [M] */
  forward(x: Tensor, ids: Tensor): Tensor {
    const M = ids.shape[0]!, { maxNumTiles: T, hiddenSize: D } = this.cfg;
    return x.add(this.embedding.forward(ids).reshape([M, T, 1, D]).mul(this.gate.tanh()));
  }
}

/** `MllamaPrecomputedPositionEmbedding`: (1 − tanh g)·positions + tanh g·tile_positions[aspect_ratio_id]. */
class GatedPositionEmbedding extends Module {
  gate: Parameter;
  embedding: Parameter;
  tile_embedding: Embedding;
  constructor(private readonly cfg: MllamaVisionConfig, private readonly N: number) {
    super();
    this.gate = parameter([1], normalInit(0.1));
    this.embedding = parameter([N, cfg.hiddenSize], normalInit(cfg.hiddenSize ** -0.5));
    this.tile_embedding = new Embedding(cfg.numAspectRatios + 1, cfg.maxNumTiles * N * cfg.hiddenSize);
  }
  forward(x: Tensor, ids: Tensor): Tensor {
    const M = ids.shape[0]!, { maxNumTiles: T, hiddenSize: D } = this.cfg, g = this.gate.tanh();
    const pos = g.neg().add(1).mul(this.embedding).reshape([1, 1, this.N, D]);
    return x.add(pos).add(this.tile_embedding.forward(ids).reshape([M, T, this.N, D]).mul(g));
  }
}

export class MllamaVisionModel extends Module {
  patch_embedding: Conv2d;
  class_embedding: Parameter;
  gated_positional_embedding: GatedPositionEmbedding;
  pre_tile_positional_embedding: AspectRatioEmbedding;
  post_tile_positional_embedding: AspectRatioEmbedding;
  layernorm_pre: LayerNorm;
  layernorm_post: LayerNorm;
  transformer: Encoder;
  global_transformer: Encoder;
  readonly numTokens: number;
  constructor(readonly cfg: MllamaVisionConfig) {
    super();
    const D = cfg.hiddenSize;
    this.numTokens = (cfg.imageSize / cfg.patchSize) ** 2 + 1;
    this.patch_embedding = new Conv2d(cfg.numChannels, D, cfg.patchSize, { stride: cfg.patchSize, bias: false });
    this.class_embedding = parameter([D], normalInit(D ** -0.5));
    this.gated_positional_embedding = new GatedPositionEmbedding(cfg, this.numTokens);
    this.pre_tile_positional_embedding = new AspectRatioEmbedding(cfg);
    this.post_tile_positional_embedding = new AspectRatioEmbedding(cfg);
    this.layernorm_pre = new LayerNorm(D, cfg.normEps);
    this.layernorm_post = new LayerNorm(D, cfg.normEps);
    this.transformer = new Encoder(cfg, cfg.numLayers, false);
    this.global_transformer = new Encoder(cfg, cfg.numGlobalLayers, true);
  }

  /** pixels [B, I, T, C, S, S], aspectRatioIds [B, I], aspectRatioMask [B, I, T] → [B, I, T, N, outputDim]. */
  forward(pixels: Tensor, aspectRatioIds: Tensor, aspectRatioMask: Tensor): Tensor {
    const cfg = this.cfg, D = cfg.hiddenSize, N = this.numTokens, S = cfg.imageSize;
    const [B, I, T] = pixels.shape as [number, number, number];
    if (pixels.ndim !== 6 || T !== cfg.maxNumTiles || pixels.shape[3] !== cfg.numChannels || pixels.shape[4] !== S || pixels.shape[5] !== S) {
      throw new Error(`mllama vision: pixel_values [${pixels.shape.join(', ')}] should be [B, images, ${cfg.maxNumTiles}, ${cfg.numChannels}, ${S}, ${S}]`);
    }
    if (aspectRatioIds.shape.join() !== `${B},${I}`) throw new Error(`mllama vision: aspect_ratio_ids [${aspectRatioIds.shape.join(', ')}] should be [${B}, ${I}]`);
    if (aspectRatioMask.shape.join() !== `${B},${I},${T}`) throw new Error(`mllama vision: aspect_ratio_mask [${aspectRatioMask.shape.join(', ')}] should be [${B}, ${I}, ${T}]`);
    const badId = aspectRatioIds.toList().find((v) => v < 0 || v > cfg.numAspectRatios);
    if (badId !== undefined) throw new Error(`mllama vision: aspect_ratio_id ${badId} is outside [0, ${cfg.numAspectRatios}]`);
    const M = B * I, P = N - 1;
    const ids = aspectRatioIds.reshape([M]);
    let x = this.patch_embedding.forward(pixels.reshape([M * T, cfg.numChannels, S, S])).flatten(2).transpose(1, 2); // [M·T, P, D]
    x = this.pre_tile_positional_embedding.forward(x.reshape([M, T, P, D]), ids); // [M, T, P, D]
    x = concat([this.class_embedding.reshape([1, 1, D]).expand([M * T, 1, D]), x.reshape([M * T, P, D])], 1); // [M·T, N, D]
    x = this.layernorm_pre.forward(this.gated_positional_embedding.forward(x.reshape([M, T, N, D]), ids)); // [M, T, N, D]
    const padCount = (8 - (N % 8)) % 8, Np = N + padCount;
    x = pad(x, [0, 0, 0, padCount]).reshape([M, T * Np, D]); // [M, T·Np, D]
    const mask = paddingMask(aspectRatioMask.toList(), M, T, Np, padCount);
    const local = this.transformer.forward(x, mask);
    let h = this.layernorm_post.forward(local[local.length - 1]!).reshape([M, T, Np, D]);
    h = this.post_tile_positional_embedding.forward(h, ids).reshape([M, T * Np, D]);
    const global = this.global_transformer.forward(h, mask);
    const out = slice(global[global.length - 1]!.reshape([M, T, Np, D]), 2, 0, N); // [M, T, N, D]
    const inter = stack(cfg.intermediateLayers.map((i) => local[i]!), -1) // [M, T·Np, D, n]
      .reshape([M, T, Np, D * cfg.intermediateLayers.length]);
    return concat([out, slice(inter, 2, 0, N)], -1).reshape([B, I, T, N, cfg.outputDim]);
  }
}

/**
 * [M, 1, T·Np, T·Np]: finfo.min where query and key are both padding. HF marks the last `padCount` tokens of each
 * tile with a `[-padCount:]` slice, which selects every token when padCount is 0; that quirk is kept.
 */
function paddingMask(tileMask: readonly number[], M: number, T: number, Np: number, padCount: number): Tensor {
  const L = T * Np, isPad = new Uint8Array(M * L), out = new Float32Array(M * L * L);
  for (let m = 0; m < M; m++) {
    for (let t = 0; t < T; t++) {
      for (let p = 0; p < Np; p++) isPad[m * L + t * Np + p] = !tileMask[m * T + t] || padCount === 0 || p >= Np - padCount ? 1 : 0;
    }
    for (let i = 0; i < L; i++) {
      if (!isPad[m * L + i]) continue;
      for (let j = 0; j < L; j++) if (isPad[m * L + j]) out[(m * L + i) * L + j] = float32Min;
    }
  }
  return tensor(out, { shape: [M, 1, L, L] });
}
