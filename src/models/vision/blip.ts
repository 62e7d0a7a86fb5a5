// The BLIP-2 vision tower (Li et al. 2023, "BLIP-2"; transformers `Blip2VisionModel`): an EVA/ViT encoder with a
// biased patch convolution, a class token, a learned position table (a bare parameter, not an embedding), pre-LN
// layers whose attention uses one fused `qkv` projection, and a `post_layernorm` applied to last_hidden_state
// (which the Q-Former then cross-attends to). No pre-layernorm, unlike CLIP.
//
// Shapes: B batch, P patches, N = 1 + P tokens, C hidden, H heads, D head dim, I intermediate.

import { Conv2d, LayerNorm, Linear } from '../../nn/layers.ts';
import { Module, parameter, type Parameter } from '../../nn/module.ts';
import { concat, geluTanh, quickGelu, scaledDotProductAttention, type Tensor } from '../../tensor/index.ts';
import { normalInit } from '../../nn/init.ts';

export type BlipActivation = 'gelu' | 'gelu_pytorch_tanh' | 'quick_gelu';

export interface BlipVisionConfig {
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly imageSize: number;
  readonly patchSize: number;
  readonly numChannels: number;
  readonly layerNormEps: number;
  readonly qkvBias: boolean;
  readonly activation: BlipActivation;
}

function field(cfg: Record<string, unknown>, key: string, where: string): number {
  const v = cfg[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** Parses BLIP-2's `vision_config`; `where` names the source in errors. */
export function parseBlipVisionConfig(cfg: Record<string, unknown>, where = 'vision_config'): BlipVisionConfig {
  const act = cfg.hidden_act ?? 'gelu';
  if (act !== 'gelu' && act !== 'gelu_pytorch_tanh' && act !== 'quick_gelu') throw new Error(`${where}: hidden_act "${String(act)}" is not supported`);
  const c = Object.freeze({
    hiddenSize: field(cfg, 'hidden_size', where),
    intermediateSize: field(cfg, 'intermediate_size', where),
    numLayers: field(cfg, 'num_hidden_layers', where),
    numHeads: field(cfg, 'num_attention_heads', where),
    imageSize: field(cfg, 'image_size', where),
    patchSize: field(cfg, 'patch_size', where),
    numChannels: typeof cfg.num_channels === 'number' ? cfg.num_channels : 3,
    layerNormEps: typeof cfg.layer_norm_eps === 'number' ? cfg.layer_norm_eps : 1e-6,
    qkvBias: cfg.qkv_bias !== false,
    activation: act,
  });
  if (c.imageSize % c.patchSize !== 0) throw new Error(`${where}: image_size ${c.imageSize} is not a multiple of patch_size ${c.patchSize}`);
  if (c.hiddenSize % c.numHeads !== 0) throw new Error(`${where}: hidden_size ${c.hiddenSize} is not divisible by ${c.numHeads} heads`);
  return c;
}

function activate(x: Tensor, act: BlipActivation): Tensor {
  return act === 'gelu' ? x.gelu() : act === 'quick_gelu' ? quickGelu(x) : geluTanh(x);
}

export class BlipVisionEmbeddings extends Module {
  classEmbedding: Parameter;
  patchEmbedding: Conv2d;
  positionEmbedding: Parameter;
  constructor(readonly config: BlipVisionConfig) {
    super();
    const c = config, grid = c.imageSize / c.patchSize;
    this.classEmbedding = parameter([1, 1, c.hiddenSize], normalInit(0.02));
    this.patchEmbedding = new Conv2d(c.numChannels, c.hiddenSize, c.patchSize, { stride: c.patchSize });
    this.positionEmbedding = parameter([1, 1 + grid * grid, c.hiddenSize], normalInit(0.02));
  }
  /** pixels [B, 3, S, S] → [B, N, C]. */
  forward(pixels: Tensor): Tensor {
    const c = this.config;
    if (pixels.ndim !== 4 || pixels.shape[1] !== c.numChannels || pixels.shape[2] !== c.imageSize || pixels.shape[3] !== c.imageSize) {
      throw new Error(`blip vision: pixel_values must be [batch, ${c.numChannels}, ${c.imageSize}, ${c.imageSize}], got [${pixels.shape.join(', ')}]`);
    }
    const B = pixels.shape[0]!;
    const patches = this.patchEmbedding.forward(pixels).flatten(2).transpose(1, 2); // [B, P, C]
    const cls = this.classEmbedding.expand([B, 1, c.hiddenSize]); // [B, 1, C]
    return concat([cls, patches], 1).add(this.positionEmbedding); // [B, N, C]
  }
}

/** Blip2Attention: fused qkv (q/k/v stacked along the output dim), scaled by D^-0.5, then `projection`. */
export class BlipAttention extends Module {
  qkv: Linear;
  projection: Linear;
  constructor(readonly dim: number, readonly heads: number, qkvBias: boolean) {
    super();
    this.qkv = new Linear(dim, 3 * dim, { bias: qkvBias });
    this.projection = new Linear(dim, dim);
  }
  forward(x: Tensor): Tensor {
    const [B, N] = x.shape as [number, number, number];
    const H = this.heads, D = this.dim / H;
    const qkv = this.qkv.forward(x).view(B, N, 3, H, D).permute(2, 0, 3, 1, 4); // [3, B, H, N, D]
    const [q, k, v] = [0, 1, 2].map((i) => qkv.slice(0, i, i + 1).squeeze(0)) as [Tensor, Tensor, Tensor];
    const o = scaledDotProductAttention(q, k, v, { scale: D ** -0.5 }); // [B, H, N, D]
    return this.projection.forward(o.transpose(1, 2).reshape([B, N, this.dim])); // [B, N, C]
  }
}

export class BlipMlp extends Module {
  fc1: Linear;
  fc2: Linear;
  constructor(c: BlipVisionConfig) {
    super();
    this.fc1 = new Linear(c.hiddenSize, c.intermediateSize);
    this.fc2 = new Linear(c.intermediateSize, c.hiddenSize);
  }
  forward(x: Tensor, act: BlipActivation): Tensor {
    return this.fc2.forward(activate(this.fc1.forward(x), act)); // [B, N, C]
  }
}

export class BlipEncoderLayer extends Module {
  selfAttn: BlipAttention;
  layerNorm1: LayerNorm;
  mlp: BlipMlp;
  layerNorm2: LayerNorm;
  constructor(readonly config: BlipVisionConfig) {
    super();
    const c = config;
    this.selfAttn = new BlipAttention(c.hiddenSize, c.numHeads, c.qkvBias);
    this.layerNorm1 = new LayerNorm(c.hiddenSize, c.layerNormEps);
    this.mlp = new BlipMlp(c);
    this.layerNorm2 = new LayerNorm(c.hiddenSize, c.layerNormEps);
  }
  forward(x: Tensor): Tensor {
    const h = x.add(this.selfAttn.forward(this.layerNorm1.forward(x))); // [B, N, C]
    return h.add(this.mlp.forward(this.layerNorm2.forward(h), this.config.activation));
  }
}

export class BlipEncoder extends Module {
  layers: BlipEncoderLayer[];
  constructor(c: BlipVisionConfig) {
    super();
    this.layers = Array.from({ length: c.numLayers }, () => new BlipEncoderLayer(c));
  }
}

export interface BlipVisionOutput {
  /** [B, N, C] with post_layernorm applied. */
  lastHiddenState: Tensor;
  /** numLayers + 1 entries: [0] embeddings, [i] output of layer i (no post_layernorm). */
  hiddenStates: Tensor[];
}

/** Blip2VisionModel; runtime names mirror the checkpoint's `vision_model.*` keys in camelCase. */
export class BlipVisionModel extends Module {
  embeddings: BlipVisionEmbeddings;
  encoder: BlipEncoder;
  postLayernorm: LayerNorm;
  constructor(readonly config: BlipVisionConfig) {
    super();
    this.embeddings = new BlipVisionEmbeddings(config);
    this.encoder = new BlipEncoder(config);
    this.postLayernorm = new LayerNorm(config.hiddenSize, config.layerNormEps);
  }
  forward(pixels: Tensor): BlipVisionOutput {
    let h = this.embeddings.forward(pixels); // [B, N, C]
    const hiddenStates = [h];
    for (const layer of this.encoder.layers) {
      h = layer.forward(h);
      hiddenStates.push(h);
    }
    return { lastHiddenState: this.postLayernorm.forward(h), hiddenStates };
  }
}
