// InternVL's connector (transformers `InternVLModel.pixel_shuffle` + `InternVLMultiModalProjector`): the g×g patch
// grid is pixel-shuffled by `downsample_ratio` (0.5 → each 2×2 block becomes one cell with 4× the channels), then
// LayerNorm (eps 1e-5, the nn.LayerNorm default, not the vision eps) → Linear → act → Linear.
//
// Channel order of the shuffle, derived from HF's view/permute sequence: with s = 1/ratio, output cell (i, j)
// holds blocks x[s·i + m, s·j + k] at block index m·s + k, i.e. for s = 2
// cat(x[2i,2j], x[2i,2j+1], x[2i+1,2j], x[2i+1,2j+1]), cells in row-major order.
//
// Shapes: B tiles, g grid side, C vision channels, s = 1/ratio, Ct text width.

import { LayerNorm, Linear } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';
import type { Tensor } from '../../tensor/index.ts';
import { activation, type Activation } from '../../io/hf/activations.ts';

/** The integer block side 1/ratio, or an error naming the ratio. */
export function shuffleFactor(downsampleRatio: number): number {
  const s = Math.round(1 / downsampleRatio);
  if (!(downsampleRatio > 0) || Math.abs(s * downsampleRatio - 1) > 1e-9) {
    throw new Error(`pixel shuffle: downsample_ratio ${downsampleRatio} is not 1/n for an integer n`);
  }
  return s;
}

/** x [B, g·g, C] (a row-major square grid) → [B, (g/s)², s²·C]. */
export function pixelShuffle(x: Tensor, downsampleRatio: number): Tensor {
  const [B, P, C] = x.shape as [number, number, number];
  const g = Math.round(Math.sqrt(P)), s = shuffleFactor(downsampleRatio);
  if (x.ndim !== 3 || g * g !== P) throw new Error(`pixel shuffle: [${x.shape.join(', ')}] is not [B, g·g, C] for a square grid`);
  if (g % s) throw new Error(`pixel shuffle: grid side ${g} is not divisible by ${s} (downsample_ratio ${downsampleRatio})`);
  const o = g / s;
  return x.reshape([B, o, s, o, s, C]) // [B, i, m, j, k, C]
    .permute(0, 1, 3, 2, 4, 5) // [B, i, j, m, k, C]
    .reshape([B, o * o, s * s * C]);
}

export interface InternVlProjectorConfig {
  /** Vision width after the shuffle (s²·C). */
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly act: string;
}

export class InternVlProjector extends Module {
  layer_norm: LayerNorm;
  linear_1: Linear;
  linear_2: Linear;
  private readonly act: Activation;
  constructor(readonly cfg: InternVlProjectorConfig) {
    super();
    this.layer_norm = new LayerNorm(cfg.inFeatures, 1e-5);
    this.linear_1 = new Linear(cfg.inFeatures, cfg.outFeatures);
    this.act = activation(cfg.act, 'projector_hidden_act');
    this.linear_2 = new Linear(cfg.outFeatures, cfg.outFeatures);
  }
  /** [B, M, s²·C] → [B, M, Ct] */
  forward(x: Tensor): Tensor {
    return this.linear_2.forward(this.act(this.linear_1.forward(this.layer_norm.forward(x))));
  }
}
