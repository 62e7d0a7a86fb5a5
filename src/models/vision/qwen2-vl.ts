// Qwen2-VL vision tower (Wang et al. 2024; transformers `Qwen2VisionTransformerPretrainedModel`): native-resolution
// patches arrive already flattened, [N, C·Tp·P·P], and already ordered window by window (each m×m merge window's
// patches are consecutive, row-major inside the window). PatchEmbed is a Conv3d whose kernel equals its stride,
// i.e. one bias-free Linear over the flattened patch. Blocks are pre-LayerNorm (eps 1e-6) with fused qkv attention
// carrying a 2D rotary embedding: of each head's D/2 frequencies, the first half rotate by the patch row and the
// second half by the patch column. Attention runs inside each frame of each image only (cu_seqlens). The merger
// LayerNorms, concatenates each window's m² tokens, and maps them through Linear → GELU (erf) → Linear.
//
// Shapes: N patches (all images), E embed_dim, H heads, Dh head dim, m spatial merge, C text width.

import { LayerNorm, Linear } from '../../nn/layers.ts';
import { Module, parameter, type Parameter } from '../../nn/module.ts';
import { normalInit } from '../../nn/init.ts';
import { applyRope, concat, gelu, linear, scaledDotProductAttention, slice, tensor, type Tensor } from '../../tensor/index.ts';
import { ConfigReader, type Json } from '../../io/hf/config.ts';
import { activation, type Activation } from '../../io/hf/activations.ts';

export interface Qwen2VlVisionConfig {
  readonly depth: number;
  readonly embedDim: number;
  readonly numHeads: number;
  readonly mlpRatio: number;
  readonly hiddenAct: string;
  readonly inChannels: number;
  readonly patchSize: number;
  readonly temporalPatchSize: number;
  readonly spatialMergeSize: number;
  /** Text width the merger maps to (`vision_config.hidden_size`). */
  readonly outHiddenSize: number;
  readonly ropeTheta: number;
}

export function parseQwen2VlVisionConfig(json: Json, where = 'config.json:vision_config'): Qwen2VlVisionConfig {
  const c = new ConfigReader(json, where);
  const embedDim = c.int('embed_dim', 1280), numHeads = c.int('num_heads', 16);
  if (embedDim % numHeads || (embedDim / numHeads) % 4) throw new Error(`${where}: embed_dim ${embedDim} / num_heads ${numHeads} must be a multiple of 4 (2D rotary)`);
  const rope = c.optChild('rope_parameters');
  return Object.freeze({
    depth: c.int('depth', 32), embedDim, numHeads,
    mlpRatio: c.num('mlp_ratio', 4),
    hiddenAct: c.str('hidden_act', 'quick_gelu'),
    inChannels: c.int('in_channels', 3),
    patchSize: c.int('patch_size', 14),
    temporalPatchSize: c.int('temporal_patch_size', 2),
    spatialMergeSize: c.int('spatial_merge_size', 2),
    outHiddenSize: c.int('hidden_size', 3584),
    ropeTheta: rope?.num('rope_theta', 10000) ?? 10000,
  });
}

/** (row, col) of every patch in the tower's window-by-window order, per grid [t, h, w] (repeated per frame). */
export function visionPatchPositions(grids: readonly number[][], m: number): { rows: number[]; cols: number[] } {
  const rows: number[] = [], cols: number[] = [];
  for (const [t, h, w] of grids) {
    for (let f = 0; f < t!; f++) for (let bi = 0; bi < h! / m; bi++) for (let bj = 0; bj < w! / m; bj++) {
      for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) { rows.push(bi * m + i); cols.push(bj * m + j); }
    }
  }
  return { rows, cols };
}

/** cos, sin [N, Dh]: frequency k < Dh/4 turns with the row, the next Dh/4 with the column; both halves repeat. */
function visionRope(rows: readonly number[], cols: readonly number[], headDim: number, theta: number): { cos: Tensor; sin: Tensor } {
  const quarter = headDim / 4, N = rows.length;
  const inv = Array.from({ length: quarter }, (_, k) => Math.fround(1 / Math.pow(theta, Math.fround((2 * k) / (headDim / 2)))));
  const cos = new Float32Array(N * headDim), sin = new Float32Array(N * headDim);
  for (let n = 0; n < N; n++) for (let k = 0; k < 2 * quarter; k++) {
    const angle = Math.fround(k < quarter ? inv[k]! * rows[n]! : inv[k - quarter]! * cols[n]!);
    const o = n * headDim;
    cos[o + k] = cos[o + 2 * quarter + k] = Math.cos(angle);
    sin[o + k] = sin[o + 2 * quarter + k] = Math.sin(angle);
  }
  return { cos: tensor(cos, { shape: [1, N, headDim] }), sin: tensor(sin, { shape: [1, N, headDim] }) };
}

class PatchEmbed extends Module {
  proj: { weight: Parameter } & Module;
  constructor(private readonly cfg: Qwen2VlVisionConfig) {
    super();
    this.proj = new Conv3dWeight([cfg.embedDim, cfg.inChannels, cfg.temporalPatchSize, cfg.patchSize, cfg.patchSize]);
  }
  /** [N, C·Tp·P·P] → [N, E] */
  forward(x: Tensor): Tensor {
    const w = this.proj.weight; // [E, C, Tp, P, P]
    const flat = w.shape.slice(1).reduce((p, d) => p * d, 1);
    if (x.ndim !== 2 || x.shape[1] !== flat) throw new Error(`qwen2-vl vision: pixel_values must be [patches, ${flat}] (channels·temporal_patch·patch²), got [${x.shape.join(', ')}]`);
    return linear(x, w.reshape([this.cfg.embedDim, flat]));
  }
}

/** The weight of a Conv3d with kernel = stride (no bias), kept in torch's 5-d layout for the checkpoint. */
class Conv3dWeight extends Module {
  weight: Parameter;
  constructor(shape: number[]) {
    super();
    this.weight = parameter(shape, normalInit(0.02));
  }
}

class VisionAttention extends Module {
  qkv: Linear; proj: Linear;
  constructor(private readonly E: number, private readonly H: number) {
    super();
    this.qkv = new Linear(E, 3 * E);
    this.proj = new Linear(E, E);
  }
  /** x [N, E]; segments [start, end) attend only among themselves. */
  forward(x: Tensor, rope: { cos: Tensor; sin: Tensor }, segments: readonly (readonly [number, number])[]): Tensor {
    const N = x.shape[0]!, H = this.H, Dh = this.E / H;
    const qkv = this.qkv.forward(x).reshape([N, 3, H, Dh]).permute(1, 2, 0, 3); // [3, H, N, Dh]
    const part = (i: number): Tensor => slice(qkv, 0, i, i + 1); // [1, H, N, Dh]
    const q = applyRope(part(0), rope.cos, rope.sin), k = applyRope(part(1), rope.cos, rope.sin), v = part(2);
    const outs = segments.map(([s, e]) => scaledDotProductAttention(slice(q, 2, s, e), slice(k, 2, s, e), slice(v, 2, s, e))); // [1, H, n, Dh]
    const y = segments.length === 1 ? outs[0]! : concat(outs, 2); // [1, H, N, Dh]
    return this.proj.forward(y.squeeze(0).transpose(0, 1).reshape([N, this.E])); // [N, E]
  }
}

class VisionMlp extends Module {
  fc1: Linear; fc2: Linear;
  constructor(E: number, inner: number, private readonly act: Activation) {
    super();
    this.fc1 = new Linear(E, inner);
    this.fc2 = new Linear(inner, E);
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.act(this.fc1.forward(x)));
  }
}

class VisionBlock extends Module {
  norm1: LayerNorm; norm2: LayerNorm; attn: VisionAttention; mlp: VisionMlp;
  constructor(cfg: Qwen2VlVisionConfig) {
    super();
    this.norm1 = new LayerNorm(cfg.embedDim, 1e-6);
    this.norm2 = new LayerNorm(cfg.embedDim, 1e-6);
    this.attn = new VisionAttention(cfg.embedDim, cfg.numHeads);
    this.mlp = new VisionMlp(cfg.embedDim, Math.floor(cfg.embedDim * cfg.mlpRatio), activation(cfg.hiddenAct, 'vision_config.hidden_act'));
  }
  forward(x: Tensor, rope: { cos: Tensor; sin: Tensor }, segments: readonly (readonly [number, number])[]): Tensor {
    const h = x.add(this.attn.forward(this.norm1.forward(x), rope, segments));
    return h.add(this.mlp.forward(this.norm2.forward(h)));
  }
}

/** `merger`: ln_q, then nn.Sequential(Linear, GELU, Linear) whose linears are `mlp.0` and `mlp.2`. */
class PatchMerger extends Module {
  ln_q: LayerNorm;
  mlp: (Linear | null)[];
  constructor(E: number, private readonly width: number, out: number) {
    super();
    this.ln_q = new LayerNorm(E, 1e-6);
    this.mlp = [new Linear(width, width), null, new Linear(width, out)]; // index 1 is the parameter-free GELU
  }
  /** [N, E] → [N/m², C] */
  forward(x: Tensor): Tensor {
    const y = this.ln_q.forward(x).reshape([x.shape[0]! * x.shape[1]! / this.width, this.width]);
    return this.mlp[2]!.forward(gelu(this.mlp[0]!.forward(y)));
  }
}

export interface Qwen2VlVisionOutput {
  /** [N, E] after the last block. */
  lastHiddenState: Tensor;
  /** [N/m², C] merged features, images in order. */
  merged: Tensor;
}

export class Qwen2VlVisionTower extends Module {
  patch_embed: PatchEmbed;
  blocks: VisionBlock[];
  merger: PatchMerger;
  constructor(readonly cfg: Qwen2VlVisionConfig) {
    super();
    this.patch_embed = new PatchEmbed(cfg);
    this.blocks = Array.from({ length: cfg.depth }, () => new VisionBlock(cfg));
    const m2 = cfg.spatialMergeSize ** 2;
    this.merger = new PatchMerger(cfg.embedDim, cfg.embedDim * m2, cfg.outHiddenSize);
  }

  /** pixels [N, C·Tp·P·P], grids [[t, h, w], …] in patches (Σ t·h·w = N). */
  forward(pixels: Tensor, grids: readonly number[][]): Qwen2VlVisionOutput {
    const m = this.cfg.spatialMergeSize;
    const segments: [number, number][] = [];
    let start = 0;
    for (const g of grids) {
      if (g.length !== 3 || g.some((v) => !Number.isInteger(v) || v < 1)) throw new Error(`qwen2-vl vision: image_grid_thw row [${g.join(', ')}] must be three positive integers`);
      if (g[1]! % m || g[2]! % m) throw new Error(`qwen2-vl vision: image_grid_thw row [${g.join(', ')}] is not divisible by spatial_merge_size ${m}`);
      for (let f = 0; f < g[0]!; f++, start += g[1]! * g[2]!) segments.push([start, start + g[1]! * g[2]!]);
    }
    if (start !== pixels.shape[0]) throw new Error(`qwen2-vl vision: image_grid_thw covers ${start} patches but pixel_values has ${pixels.shape[0]} rows`);
    const { rows, cols } = visionPatchPositions(grids, m);
    const rope = visionRope(rows, cols, this.cfg.embedDim / this.cfg.numHeads, this.cfg.ropeTheta); // [1, N, Dh]
    let x = this.patch_embed.forward(pixels); // [N, E]
    for (const block of this.blocks) x = block.forward(x, rope, segments);
    return { lastHiddenState: x, merged: this.merger.forward(x) };
  }
}
