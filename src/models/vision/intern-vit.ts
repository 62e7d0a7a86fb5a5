// InternViT, the vision tower of InternVL (Chen et al. 2024; transformers `InternVLVisionModel`): patch conv with
// bias, a learned CLS token, learned absolute positions over CLS + patches, then pre-norm layers with layer scale
//   h += lambda_1 · attn(layernorm_before(h));  h += lambda_2 · mlp(layernorm_after(h))
// where lambda_* are per-channel vectors. Attention has optional q/k/v biases (`attention_bias`) and an optional
// RMSNorm over the whole q and k width (`use_qk_norm`). `use_mean_pooling` leaves out the final LayerNorm, so
// last_hidden_state is then the raw last layer. Field names are the HF module names, so checkpoint keys map directly.
//
// Shapes: B tiles, P patches, N = P + 1 tokens, C hidden, H heads, D head dim.

import { Conv2d, LayerNorm, Linear, RMSNorm } from '../../nn/layers.ts';
import { Module, parameter, type Parameter } from '../../nn/module.ts';
import { constantInit, normalInit } from '../../nn/init.ts';
import { concat, scaledDotProductAttention, type Tensor } from '../../tensor/index.ts';
import { ConfigReader, type Json } from '../../io/hf/config.ts';
import { activation, type Activation } from '../../io/hf/activations.ts';

export interface InternVitConfig {
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numChannels: number;
  readonly imageSize: readonly [number, number];
  readonly patchSize: readonly [number, number];
  readonly layerNormEps: number;
  readonly normType: 'layer_norm' | 'rms_norm';
  readonly hiddenAct: string;
  readonly attentionBias: boolean;
  readonly useQkNorm: boolean;
  readonly useMeanPooling: boolean;
  readonly useAbsolutePositions: boolean;
  readonly layerScaleInit: number;
}

function pair(c: ConfigReader, key: string): [number, number] {
  const v = c.obj[key];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => Number.isInteger(x) && x > 0)) return [v[0] as number, v[1] as number];
  const n = c.int(key);
  if (n <= 0) throw new Error(`${c.where}: field "${key}" must be positive, got ${n}`);
  return [n, n];
}

/** Parses an `InternVLVisionConfig` (`vision_config` of an InternVL config.json). */
export function parseInternVitConfig(json: Json, where = 'config.json:vision_config'): InternVitConfig {
  const c = new ConfigReader(json, where);
  const type = c.str('model_type', 'internvl_vision');
  if (type !== 'internvl_vision') throw new Error(`${where}: vision model_type "${type}" is not supported here (expected internvl_vision)`);
  const hiddenSize = c.int('hidden_size'), numHeads = c.int('num_attention_heads');
  if (hiddenSize % numHeads) throw new Error(`${where}: hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`);
  const imageSize = pair(c, 'image_size'), patchSize = pair(c, 'patch_size');
  if (imageSize[0] % patchSize[0] || imageSize[1] % patchSize[1]) {
    throw new Error(`${where}: image_size [${imageSize.join(', ')}] is not a multiple of patch_size [${patchSize.join(', ')}]`);
  }
  const normType = c.str('norm_type', 'layer_norm');
  if (normType !== 'layer_norm' && normType !== 'rms_norm') throw new Error(`${where}: norm_type "${normType}" must be "layer_norm" or "rms_norm"`);
  return Object.freeze({
    hiddenSize, numHeads, imageSize, patchSize, normType,
    intermediateSize: c.int('intermediate_size'),
    numLayers: c.int('num_hidden_layers'),
    numChannels: c.int('num_channels', 3),
    layerNormEps: c.num('layer_norm_eps', 1e-6),
    hiddenAct: c.str('hidden_act', 'gelu'),
    attentionBias: c.bool('attention_bias', false),
    useQkNorm: c.bool('use_qk_norm', false),
    useMeanPooling: c.bool('use_mean_pooling', true),
    useAbsolutePositions: c.bool('use_absolute_position_embeddings', true),
    layerScaleInit: c.num('layer_scale_init_value', 0.1),
  });
}

/** Patches per side, [rows, cols]. */
export const internGrid = (c: InternVitConfig): [number, number] => [c.imageSize[0] / c.patchSize[0], c.imageSize[1] / c.patchSize[1]];

const makeNorm = (cfg: InternVitConfig): LayerNorm | RMSNorm =>
  cfg.normType === 'layer_norm' ? new LayerNorm(cfg.hiddenSize, cfg.layerNormEps) : new RMSNorm(cfg.hiddenSize, cfg.layerNormEps);

class PatchEmbeddings extends Module {
  projection: Conv2d;
  constructor(cfg: InternVitConfig) {
    super();
    // Conv2d takes one square kernel; non-square patches are rejected where the config is checked below.
    this.projection = new Conv2d(cfg.numChannels, cfg.hiddenSize, cfg.patchSize[0], { stride: cfg.patchSize[0] });
  }
}

class Embeddings extends Module {
  cls_token: Parameter;
  patch_embeddings: PatchEmbeddings;
  position_embeddings: Parameter | null;
  constructor(private readonly cfg: InternVitConfig) {
    super();
    const [gh, gw] = internGrid(cfg), C = cfg.hiddenSize;
    this.cls_token = parameter([1, 1, C], normalInit(0.02));
    this.patch_embeddings = new PatchEmbeddings(cfg);
    this.position_embeddings = cfg.useAbsolutePositions ? parameter([1, gh * gw + 1, C], normalInit(0.02)) : null;
  }
  forward(pixels: Tensor): Tensor {
    const { numChannels, imageSize, hiddenSize: C } = this.cfg;
    const s = pixels.shape;
    // Position embeddings are not interpolated, so the tile size must be the configured one.
    if (s.length !== 4 || s[1] !== numChannels || s[2] !== imageSize[0] || s[3] !== imageSize[1]) {
      throw new Error(`InternViT: pixel_values has shape [${s.join(', ')}], expected [tiles, ${numChannels}, ${imageSize[0]}, ${imageSize[1]}]`);
    }
    if (pixels.dtype !== 'float32' && pixels.dtype !== 'float64') throw new Error(`InternViT: pixel_values must be float, got ${pixels.dtype}`);
    const B = s[0]!;
    const patches = this.patch_embeddings.projection.forward(pixels).flatten(2).transpose(1, 2); // [B, P, C]
    const x = concat([this.cls_token.expand([B, 1, C]), patches], 1); // [B, N, C]
    return this.position_embeddings ? x.add(this.position_embeddings) : x;
  }
}

class Attention extends Module {
  q_proj: Linear; k_proj: Linear; v_proj: Linear; projection_layer: Linear;
  q_norm: RMSNorm | null; k_norm: RMSNorm | null;
  constructor(private readonly cfg: InternVitConfig) {
    super();
    const C = cfg.hiddenSize, bias = cfg.attentionBias;
    this.q_proj = new Linear(C, C, { bias });
    this.k_proj = new Linear(C, C, { bias });
    this.v_proj = new Linear(C, C, { bias });
    this.projection_layer = new Linear(C, C);
    this.q_norm = cfg.useQkNorm ? new RMSNorm(C, 1e-6) : null;
    this.k_norm = cfg.useQkNorm ? new RMSNorm(C, 1e-6) : null;
  }
  forward(x: Tensor): Tensor {
    const [B, N, C] = x.shape as [number, number, number];
    const H = this.cfg.numHeads, D = C / H;
    let q = this.q_proj.forward(x), k = this.k_proj.forward(x);
    if (this.q_norm && this.k_norm) { q = this.q_norm.forward(q); k = this.k_norm.forward(k); }
    const heads = (t: Tensor): Tensor => t.reshape([B, N, H, D]).transpose(1, 2); // [B, H, N, D]
    const y = scaledDotProductAttention(heads(q), heads(k), heads(this.v_proj.forward(x))); // [B, H, N, D]
    return this.projection_layer.forward(y.transpose(1, 2).reshape([B, N, C])); // [B, N, C]
  }
}

class Mlp extends Module {
  fc1: Linear; fc2: Linear;
  private readonly act: Activation;
  constructor(cfg: InternVitConfig) {
    super();
    this.fc1 = new Linear(cfg.hiddenSize, cfg.intermediateSize);
    this.fc2 = new Linear(cfg.intermediateSize, cfg.hiddenSize);
    this.act = activation(cfg.hiddenAct, 'vision_config.hidden_act');
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.act(this.fc1.forward(x)));
  }
}

class Layer extends Module {
  attention: Attention; mlp: Mlp;
  layernorm_before: LayerNorm | RMSNorm; layernorm_after: LayerNorm | RMSNorm;
  lambda_1: Parameter; lambda_2: Parameter;
  constructor(cfg: InternVitConfig) {
    super();
    this.attention = new Attention(cfg);
    this.mlp = new Mlp(cfg);
    this.layernorm_before = makeNorm(cfg);
    this.layernorm_after = makeNorm(cfg);
    this.lambda_1 = parameter([cfg.hiddenSize], constantInit(cfg.layerScaleInit));
    this.lambda_2 = parameter([cfg.hiddenSize], constantInit(cfg.layerScaleInit));
  }
  forward(x: Tensor): Tensor {
    const h = x.add(this.attention.forward(this.layernorm_before.forward(x)).mul(this.lambda_1));
    return h.add(this.mlp.forward(this.layernorm_after.forward(h)).mul(this.lambda_2));
  }
}

class Encoder extends Module {
  layer: Layer[];
  constructor(cfg: InternVitConfig) {
    super();
    this.layer = Array.from({ length: cfg.numLayers }, () => new Layer(cfg));
  }
}

export interface InternVitOutput {
  /** numLayers + 1 entries of [B, N, C]: the embeddings, then each layer's output. */
  readonly hiddenStates: Tensor[];
  /** [B, N, C]: the last layer, through `layernorm` unless use_mean_pooling. */
  readonly lastHiddenState: Tensor;
}

export class InternVisionTower extends Module {
  embeddings: Embeddings;
  encoder: Encoder;
  layernorm: LayerNorm | null;
  constructor(readonly cfg: InternVitConfig) {
    super();
    if (cfg.patchSize[0] !== cfg.patchSize[1]) throw new Error(`InternViT: non-square patch_size [${cfg.patchSize.join(', ')}] is not supported`);
    this.embeddings = new Embeddings(cfg);
    this.encoder = new Encoder(cfg);
    this.layernorm = cfg.useMeanPooling ? null : new LayerNorm(cfg.hiddenSize, cfg.layerNormEps);
  }
  /** pixels [B, 3, H, W] → hidden states; `numLayers` stops early (later layers never run). */
  forward(pixels: Tensor, numLayers = this.cfg.numLayers): InternVitOutput {
    const states = [this.embeddings.forward(pixels)];
    for (let i = 0; i < numLayers; i++) states.push(this.encoder.layer[i]!.forward(states[i]!));
    const last = states[states.length - 1]!;
    return { hiddenStates: states, lastHiddenState: this.layernorm && numLayers === this.cfg.numLayers ? this.layernorm.forward(last) : last };
  }
}
