// Perceiver resampler (MiniCPM-V `Resampler`, after Flamingo's perceiver; Alayrac et al. 2022): Q learned queries
// cross-attend once to the patch features, so any number of patches becomes exactly Q tokens. Keys/values are
// `kv_proj(features)` after `ln_kv`, with a fixed 2D sin-cos embedding of each patch's grid position added to the
// keys only (the values stay position-free, as MiniCPM-V). Queries are `ln_q(query)`. One multi-head attention
// (packed in_proj as torch.nn.MultiheadAttention), then `ln_post` and a projection `proj` to the LLM width.
// Cross-attention has no notion of order: patches see their place only through the position embedding.
//
// Shapes: B images, N patches, Cv vision width, D resampler width, Q queries, H heads, Dh head dim, C LLM width.

import { LayerNorm, Linear } from '../../nn/layers.ts';
import { Module, parameter, type Parameter } from '../../nn/module.ts';
import { normalInit, zerosInit } from '../../nn/init.ts';
import { linear, scaledDotProductAttention, split, tensor, type Tensor } from '../../tensor/index.ts';

export interface ResamplerConfig {
  readonly numQueries: number;
  /** Resampler width D (MiniCPM-V uses the LLM width). */
  readonly width: number;
  readonly numHeads: number;
  /** Vision feature width Cv; a kv_proj maps it to D when they differ. */
  readonly inFeatures: number;
  /** LLM width C. */
  readonly outFeatures: number;
  readonly layerNormEps?: number;
}

/**
 * 2D sin-cos embedding [rows·cols, D] (MAE's get_2d_sincos_pos_embed): the first D/2 channels encode the row,
 * the last D/2 the column, each as cat(sin(p·ω), cos(p·ω)) with ω_k = 10000^(−k/(D/4)).
 */
export function sinCos2d(D: number, positions: readonly (readonly [number, number])[]): Tensor {
  if (D % 4) throw new Error(`resampler: width ${D} must be a multiple of 4 for the 2D sin-cos embedding`);
  const q = D / 4, out = new Float32Array(positions.length * D);
  positions.forEach(([r, c], n) => {
    for (let k = 0; k < q; k++) {
      const omega = 1 / Math.pow(10000, k / q), o = n * D;
      out[o + k] = Math.sin(r * omega); out[o + q + k] = Math.cos(r * omega);
      out[o + 2 * q + k] = Math.sin(c * omega); out[o + 3 * q + k] = Math.cos(c * omega);
    }
  });
  return tensor(out, { shape: [positions.length, D] });
}

/** Row-major (row, col) of a rows×cols patch grid. */
export function gridPositions(rows: number, cols: number): [number, number][] {
  return Array.from({ length: rows * cols }, (_, i) => [Math.floor(i / cols), i % cols]);
}

/** torch.nn.MultiheadAttention (batch_first) with separate query and key/value inputs. */
class CrossAttention extends Module {
  in_proj_weight: Parameter;
  in_proj_bias: Parameter;
  out_proj: Linear;
  constructor(private readonly D: number, private readonly H: number) {
    super();
    this.in_proj_weight = parameter([3 * D, D], normalInit(0.02));
    this.in_proj_bias = parameter([3 * D], zerosInit);
    this.out_proj = new Linear(D, D);
  }
  /** query [B, Q, D], key [B, N, D], value [B, N, D] → [B, Q, D] */
  forward(query: Tensor, key: Tensor, value: Tensor): Tensor {
    const [B, Q] = query.shape as [number, number, number];
    const N = key.shape[1]!, H = this.H, Dh = this.D / H;
    const [wq, wk, wv] = split(this.in_proj_weight, this.D, 0) as [Tensor, Tensor, Tensor];
    const [bq, bk, bv] = split(this.in_proj_bias, this.D, 0) as [Tensor, Tensor, Tensor];
    const heads = (t: Tensor, T: number): Tensor => t.reshape([B, T, H, Dh]).transpose(1, 2); // [B, H, T, Dh]
    const y = scaledDotProductAttention(heads(linear(query, wq, bq), Q), heads(linear(key, wk, bk), N), heads(linear(value, wv, bv), N));
    return this.out_proj.forward(y.transpose(1, 2).reshape([B, Q, this.D])); // [B, Q, D]
  }
}

export class PerceiverResampler extends Module {
  query: Parameter;
  kv_proj: Linear | null;
  attn: CrossAttention;
  ln_q: LayerNorm;
  ln_kv: LayerNorm;
  ln_post: LayerNorm;
  proj: Linear;
  constructor(readonly cfg: ResamplerConfig) {
    super();
    const { width: D, numHeads: H, numQueries: Q } = cfg, eps = cfg.layerNormEps ?? 1e-6;
    if (D % H) throw new Error(`resampler: width ${D} is not divisible by ${H} heads`);
    this.query = parameter([Q, D], normalInit(0.02));
    this.kv_proj = cfg.inFeatures === D ? null : new Linear(cfg.inFeatures, D, { bias: false });
    this.attn = new CrossAttention(D, H);
    this.ln_q = new LayerNorm(D, eps);
    this.ln_kv = new LayerNorm(D, eps);
    this.ln_post = new LayerNorm(D, eps);
    this.proj = new Linear(D, cfg.outFeatures, { bias: false });
  }

  /**
   * features [B, N, Cv] → [B, Q, C]. `positions` gives each patch's (row, col); by default the N patches form a
   * square grid in row-major order.
   */
  forward(features: Tensor, positions: readonly (readonly [number, number])[] | null = null): Tensor {
    const { inFeatures, width: D, numQueries: Q } = this.cfg;
    if (features.ndim !== 3 || features.shape[2] !== inFeatures) throw new Error(`resampler: features must be [B, N, ${inFeatures}], got [${features.shape.join(', ')}]`);
    const [B, N] = features.shape as [number, number, number];
    let pos = positions;
    if (!pos) {
      const g = Math.round(Math.sqrt(N));
      if (g * g !== N) throw new Error(`resampler: ${N} patches are not a square grid; pass their (row, col) positions`);
      pos = gridPositions(g, g);
    }
    if (pos.length !== N) throw new Error(`resampler: ${pos.length} positions for ${N} patches`);
    const kv = this.ln_kv.forward(this.kv_proj ? this.kv_proj.forward(features) : features); // [B, N, D]
    const key = kv.add(sinCos2d(D, pos).reshape([1, N, D])); // [B, N, D]
    const q = this.ln_q.forward(this.query).reshape([1, Q, D]).expand([B, Q, D]); // [B, Q, D]
    return this.proj.forward(this.ln_post.forward(this.attn.forward(q, key, kv))); // [B, Q, C]
  }
}
