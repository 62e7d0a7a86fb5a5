// Pixel-shuffle connector (transformers `Idefics3Connector`, nanoVLM's modality projector): a square grid of
// g×g vision tokens is folded into (g/s)×(g/s) tokens of s²·C channels, then one Linear without bias maps them
// to the LLM width. It trades sequence length for width: 64 patches at scale 2 become 16 image tokens.
//
// Channel order follows Idefics3's view/permute sequence: output cell (i, j) concatenates, for r = 0..s−1
// (rows of the s×s block) the s horizontally adjacent inputs x[s·i + r, s·j .. s·j + s − 1], i.e.
// cat(x[si, sj], x[si, sj+1], …, x[si+1, sj], …) — row-major inside the block (checked against HF).
//
// Shapes: B images, N = g·g tokens, C vision width, s scale factor, M = N/s² output tokens, Ct text width.

import { Linear } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';
import type { Tensor } from '../../tensor/index.ts';

/** [B, N, C] → [B, N/s², C·s²] (N must be a square whose side is a multiple of s). */
export function pixelShuffle(x: Tensor, scale: number): Tensor {
  if (x.ndim !== 3) throw new Error(`pixelShuffle: input must be [B, N, C], got [${x.shape.join(', ')}]`);
  const [B, N, C] = x.shape as [number, number, number];
  const g = Math.round(Math.sqrt(N));
  if (g * g !== N) throw new Error(`pixelShuffle: ${N} tokens do not form a square grid`);
  if (!Number.isInteger(scale) || scale < 1 || g % scale) throw new Error(`pixelShuffle: grid side ${g} is not a multiple of scale_factor ${scale}`);
  const o = g / scale;
  return x
    .reshape([B, o, scale, o, scale, C]) // [B, i, r, j, c, C]: token (s·i + r, s·j + c)
    .permute(0, 1, 3, 2, 4, 5) // [B, i, j, r, c, C]
    .reshape([B, o * o, scale * scale * C]); // [B, M, s²·C]
}

/** `connector.modality_projection.proj`: pixel shuffle, then Linear(C·s² → Ct) without bias. */
export class PixelShuffleProjector extends Module {
  modality_projection: { proj: Linear } & Module;
  constructor(readonly inFeatures: number, readonly outFeatures: number, readonly scale: number) {
    super();
    this.modality_projection = new SimpleMlp(inFeatures * scale * scale, outFeatures);
  }
  /** [B, N, C] → [B, N/s², Ct] */
  forward(x: Tensor): Tensor {
    if (x.ndim !== 3 || x.shape[2] !== this.inFeatures) throw new Error(`pixel-shuffle projector: features must be [B, N, ${this.inFeatures}], got [${x.shape.join(', ')}]`);
    return this.modality_projection.proj.forward(pixelShuffle(x, this.scale));
  }
}

/** HF's `Idefics3SimpleMLP`: despite the name, a single bias-free Linear named `proj`. */
class SimpleMlp extends Module {
  proj: Linear;
  constructor(inFeatures: number, outFeatures: number) {
    super();
    this.proj = new Linear(inFeatures, outFeatures, { bias: false });
  }
}
