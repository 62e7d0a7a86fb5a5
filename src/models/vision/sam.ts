// SAM's ViT image encoder (Kirillov et al. 2023; transformers `SamVisionEncoder`), the high-resolution tower of
// DeepSeek-VL-hybrid. It works channels-last: patch conv, `+ pos_embed` [1, g, g, C], then pre-norm layers
//   h += attn(layer_norm1(h));  h += mlp(layer_norm2(h))
// where a window layer zero-pads layer_norm1's output at the bottom/right to a multiple of the window, attends
// inside each w×w window with no mask (padded tokens act as keys/values through the qkv bias and are dropped after),
// and layers in `global_attn_indexes` attend over the whole grid. Attention logits are
// (q·scale)·kᵀ + rel_h + rel_w with the decomposed relative position terms of MViTv2 computed from the *unscaled* q:
// rel_h[y, x, ky] = q[y, x]·rel_pos_h[y − ky + S − 1] (S the window or grid side), likewise for w.
// The neck is conv1x1 → LayerNorm2d → conv3x3 → LayerNorm2d (no conv biases, eps 1e-6 over channels), channels-first out.
//
// Shapes: B images, g grid side, S attention side (window or g), Bw windows·B, C hidden, H heads, D head dim, O out channels.

import { Conv2d, LayerNorm, Linear } from '../../nn/layers.ts';
import { Module, parameter, type Parameter } from '../../nn/module.ts';
import { normalInit, zerosInit } from '../../nn/init.ts';
import { indexSelect, matmul, pad, slice, softmax, tensor, type Tensor } from '../../tensor/index.ts';
import { ConfigReader, type Json } from '../../io/hf/config.ts';
import { activation, type Activation } from '../../io/hf/activations.ts';

export interface SamVitConfig {
  readonly hiddenSize: number;
  readonly outputChannels: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numChannels: number;
  readonly imageSize: number;
  readonly patchSize: number;
  readonly layerNormEps: number;
  readonly hiddenAct: string;
  readonly mlpDim: number;
  readonly qkvBias: boolean;
  readonly useAbsPos: boolean;
  readonly useRelPos: boolean;
  /** 0 means every layer is global. */
  readonly windowSize: number;
  readonly globalAttnIndexes: readonly number[];
}

/** Parses a `SamVisionConfig` (`high_res_vision_config` of a DeepSeek-VL-hybrid config.json). */
export function parseSamVitConfig(json: Json, where = 'config.json:high_res_vision_config'): SamVitConfig {
  const c = new ConfigReader(json, where);
  const type = c.str('model_type', 'sam_vision_model');
  if (type !== 'sam_vision_model') throw new Error(`${where}: model_type "${type}" is not supported here (expected sam_vision_model)`);
  const hiddenSize = c.int('hidden_size'), numHeads = c.int('num_attention_heads');
  if (hiddenSize % numHeads) throw new Error(`${where}: hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`);
  const imageSize = c.int('image_size'), patchSize = c.int('patch_size');
  if (imageSize % patchSize) throw new Error(`${where}: image_size ${imageSize} is not a multiple of patch_size ${patchSize}`);
  const numLayers = c.int('num_hidden_layers');
  const raw = c.obj.global_attn_indexes ?? [];
  if (!Array.isArray(raw) || !raw.every((i) => Number.isInteger(i) && i >= 0 && i < numLayers)) {
    throw new Error(`${where}: field "global_attn_indexes" must be a list of layer indices below ${numLayers}, got ${JSON.stringify(raw)}`);
  }
  return Object.freeze({
    hiddenSize, numHeads, imageSize, patchSize, numLayers,
    outputChannels: c.int('output_channels', 256),
    numChannels: c.int('num_channels', 3),
    layerNormEps: c.num('layer_norm_eps', 1e-6),
    hiddenAct: c.str('hidden_act', 'gelu'),
    mlpDim: c.has('mlp_dim') ? c.int('mlp_dim') : Math.round(hiddenSize * c.num('mlp_ratio', 4)),
    qkvBias: c.bool('qkv_bias', true),
    useAbsPos: c.bool('use_abs_pos', true),
    useRelPos: c.bool('use_rel_pos', true),
    windowSize: c.int('window_size', 14),
    globalAttnIndexes: Object.freeze(raw as number[]),
  });
}

export const samGrid = (c: SamVitConfig): number => c.imageSize / c.patchSize;

/** LayerNorm over the channels of a channels-first map (transformers `SamLayerNorm(data_format="channels_first")`). */
export class LayerNorm2d extends LayerNorm {
  /** [B, C, h, w] → [B, C, h, w] */
  override forward(x: Tensor): Tensor {
    return super.forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2);
  }
}

/** `SamVisionNeck`: channels-last [B, g, g, C] → channels-first [B, O, g, g]. */
export class SamNeck extends Module {
  conv1: Conv2d; layer_norm1: LayerNorm2d; conv2: Conv2d; layer_norm2: LayerNorm2d;
  constructor(cfg: SamVitConfig) {
    super();
    const O = cfg.outputChannels;
    this.conv1 = new Conv2d(cfg.hiddenSize, O, 1, { bias: false });
    this.layer_norm1 = new LayerNorm2d(O, 1e-6);
    this.conv2 = new Conv2d(O, O, 3, { padding: 1, bias: false });
    this.layer_norm2 = new LayerNorm2d(O, 1e-6);
  }
  forward(x: Tensor): Tensor {
    const h = this.layer_norm1.forward(this.conv1.forward(x.permute(0, 3, 1, 2))); // [B, O, g, g]
    return this.layer_norm2.forward(this.conv2.forward(h));
  }
}

/** Rows rel_pos[y − k + S − 1] for every (y, k): [S, S, D]. */
function relativeTable(relPos: Tensor, S: number, what: string): Tensor {
  if (relPos.shape[0] !== 2 * S - 1) {
    throw new Error(`SAM attention: ${what} has ${relPos.shape[0]} rows, expected ${2 * S - 1} for side ${S} (resizing it is not supported)`);
  }
  const idx = new Int32Array(S * S);
  for (let y = 0; y < S; y++) for (let k = 0; k < S; k++) idx[y * S + k] = y - k + S - 1;
  return indexSelect(relPos, 0, tensor(idx, { shape: [S * S], dtype: 'int32' })).reshape([S, S, relPos.shape[1]!]);
}

class SamAttention extends Module {
  qkv: Linear; proj: Linear;
  rel_pos_h: Parameter | null; rel_pos_w: Parameter | null;
  constructor(private readonly cfg: SamVitConfig, side: number) {
    super();
    const C = cfg.hiddenSize, D = C / cfg.numHeads;
    this.qkv = new Linear(C, 3 * C, { bias: cfg.qkvBias });
    this.proj = new Linear(C, C);
    this.rel_pos_h = cfg.useRelPos ? parameter([2 * side - 1, D], zerosInit) : null;
    this.rel_pos_w = cfg.useRelPos ? parameter([2 * side - 1, D], zerosInit) : null;
  }
  /** x [Bw, Sh, Sw, C] → [Bw, Sh, Sw, C] */
  forward(x: Tensor): Tensor {
    const [Bw, Sh, Sw, C] = x.shape as [number, number, number, number];
    const H = this.cfg.numHeads, D = C / H, N = Sh * Sw, BH = Bw * H;
    const qkv = this.qkv.forward(x).reshape([Bw, N, 3, H, D]).permute(2, 0, 3, 1, 4); // [3, Bw, H, N, D]
    const part = (i: number): Tensor => slice(qkv, 0, i, i + 1).reshape([BH, N, D]);
    const q = part(0), k = part(1), v = part(2);
    let logits = matmul(q.mul(1 / Math.sqrt(D)), k.transpose(1, 2)); // [BH, N, N]
    if (this.rel_pos_h && this.rel_pos_w) {
      const rh = relativeTable(this.rel_pos_h, Sh, 'rel_pos_h'), rw = relativeTable(this.rel_pos_w, Sw, 'rel_pos_w'); // [S, S, D]
      const grid = q.reshape([BH, Sh, Sw, D]);
      const relH = matmul(grid.permute(1, 0, 2, 3).reshape([Sh, BH * Sw, D]), rh.transpose(1, 2)) // [Sh, BH·Sw, kh]
        .reshape([Sh, BH, Sw, Sh]).permute(1, 0, 2, 3); // [BH, y, x, kh]
      const relW = matmul(grid.permute(2, 0, 1, 3).reshape([Sw, BH * Sh, D]), rw.transpose(1, 2)) // [Sw, BH·Sh, kw]
        .reshape([Sw, BH, Sh, Sw]).permute(1, 2, 0, 3); // [BH, y, x, kw]
      const bias = relH.unsqueeze(4).add(relW.unsqueeze(3)).reshape([BH, N, N]); // [BH, y·x, kh·kw]
      logits = logits.add(bias);
    }
    const y = matmul(softmax(logits, -1), v); // [BH, N, D]
    return this.proj.forward(y.reshape([Bw, H, Sh, Sw, D]).permute(0, 2, 3, 1, 4).reshape([Bw, Sh, Sw, C]));
  }
}

class SamMlp extends Module {
  lin1: Linear; lin2: Linear;
  private readonly act: Activation;
  constructor(cfg: SamVitConfig) {
    super();
    this.lin1 = new Linear(cfg.hiddenSize, cfg.mlpDim);
    this.lin2 = new Linear(cfg.mlpDim, cfg.hiddenSize);
    this.act = activation(cfg.hiddenAct, 'high_res_vision_config.hidden_act');
  }
  forward(x: Tensor): Tensor {
    return this.lin2.forward(this.act(this.lin1.forward(x)));
  }
}

class SamLayer extends Module {
  layer_norm1: LayerNorm; attn: SamAttention; layer_norm2: LayerNorm; mlp: SamMlp;
  /** 0 for a global layer. */
  constructor(cfg: SamVitConfig, readonly windowSize: number) {
    super();
    this.layer_norm1 = new LayerNorm(cfg.hiddenSize, cfg.layerNormEps);
    this.attn = new SamAttention(cfg, windowSize > 0 ? windowSize : samGrid(cfg));
    this.layer_norm2 = new LayerNorm(cfg.hiddenSize, cfg.layerNormEps);
    this.mlp = new SamMlp(cfg);
  }
  /** x [B, g, g, C] → [B, g, g, C] */
  forward(x: Tensor): Tensor {
    const h = this.layer_norm1.forward(x);
    const a = this.windowSize > 0 ? this.windowed(h) : this.attn.forward(h);
    const r = x.add(a);
    return r.add(this.mlp.forward(this.layer_norm2.forward(r)));
  }
  private windowed(x: Tensor): Tensor {
    const [B, gh, gw, C] = x.shape as [number, number, number, number];
    const w = this.windowSize;
    const ph = (w - (gh % w)) % w, pw = (w - (gw % w)) % w;
    const nh = (gh + ph) / w, nw = (gw + pw) / w;
    const windows = pad(x, [0, 0, 0, pw, 0, ph]) // [B, gh+ph, gw+pw, C]
      .reshape([B, nh, w, nw, w, C]).permute(0, 1, 3, 2, 4, 5).reshape([B * nh * nw, w, w, C]); // [Bw, w, w, C]
    const y = this.attn.forward(windows)
      .reshape([B, nh, nw, w, w, C]).permute(0, 1, 3, 2, 4, 5).reshape([B, nh * w, nw * w, C]);
    return slice(slice(y, 1, 0, gh), 2, 0, gw); // [B, gh, gw, C]
  }
}

class PatchEmbed extends Module {
  projection: Conv2d;
  constructor(cfg: SamVitConfig) {
    super();
    this.projection = new Conv2d(cfg.numChannels, cfg.hiddenSize, cfg.patchSize, { stride: cfg.patchSize });
  }
}

export interface SamOutput {
  /** numLayers + 1 entries of [B, g, g, C]: patch_embed + pos_embed, then each layer's output. */
  readonly hiddenStates: Tensor[];
  /** [B, O, g, g] after the neck. */
  readonly lastHiddenState: Tensor;
}

export class SamVisionEncoder extends Module {
  patch_embed: PatchEmbed;
  pos_embed: Parameter | null;
  layers: SamLayer[];
  neck: SamNeck;
  constructor(readonly cfg: SamVitConfig) {
    super();
    const g = samGrid(cfg);
    this.patch_embed = new PatchEmbed(cfg);
    this.pos_embed = cfg.useAbsPos ? parameter([1, g, g, cfg.hiddenSize], normalInit(0.02)) : null;
    this.layers = Array.from({ length: cfg.numLayers }, (_, i) => new SamLayer(cfg, cfg.globalAttnIndexes.includes(i) ? 0 : cfg.windowSize));
    this.neck = new SamNeck(cfg);
  }
  forward(pixels: Tensor): SamOutput {
    const { numChannels, imageSize } = this.cfg, s = pixels.shape;
    if (s.length !== 4 || s[1] !== numChannels || s[2] !== imageSize || s[3] !== imageSize) {
      throw new Error(`SAM vision: high_res_pixel_values has shape [${s.join(', ')}], expected [B, ${numChannels}, ${imageSize}, ${imageSize}]`);
    }
    if (pixels.dtype !== 'float32' && pixels.dtype !== 'float64') throw new Error(`SAM vision: pixel values must be float, got ${pixels.dtype}`);
    let x = this.patch_embed.projection.forward(pixels).permute(0, 2, 3, 1); // [B, g, g, C]
    if (this.pos_embed) x = x.add(this.pos_embed);
    const states = [x];
    for (const layer of this.layers) states.push(layer.forward(states[states.length - 1]!));
    return { hiddenStates: states, lastHiddenState: this.neck.forward(states[states.length - 1]!) };
  }
}

/** `SamVisionModel`: the encoder under `vision_encoder.*`. */
export class SamVisionModel extends Module {
  vision_encoder: SamVisionEncoder;
  constructor(readonly cfg: SamVitConfig) {
    super();
    this.vision_encoder = new SamVisionEncoder(cfg);
  }
  forward(pixels: Tensor): SamOutput {
    return this.vision_encoder.forward(pixels);
  }
}
