// Rotary position tables for the Llama/Qwen2 decoders: inverse frequencies for each HF `rope_type`
// (transformers `modeling_rope_utils.py`: default, linear, dynamic NTK, llama3, yarn) and cos/sin tensors
// [B, 1, T, D] for explicit per-row position ids, in the rotate-half layout (`emb = cat(freqs, freqs)`).

import { tensor, type Tensor } from '../../tensor/index.ts';
import type { RopeConfig } from './config.ts';

/** inv_freq[i] = theta^(-2i/dim) for i < dim/2. */
function baseInvFreq(theta: number, dim: number): Float64Array {
  const out = new Float64Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) out[i] = 1 / Math.pow(theta, (2 * i) / dim);
  return out;
}

function llama3(inv: Float64Array, r: RopeConfig): Float64Array {
  const lowWavelen = r.originalMaxPositions / r.lowFreqFactor, highWavelen = r.originalMaxPositions / r.highFreqFactor;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen > lowWavelen) return f / r.factor;
    if (wavelen < highWavelen) return f;
    const smooth = (r.originalMaxPositions / wavelen - r.lowFreqFactor) / (r.highFreqFactor - r.lowFreqFactor);
    return (1 - smooth) * (f / r.factor) + smooth * f;
  });
}

const yarnMscale = (scale: number, m = 1): number => (scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1);

function yarn(r: RopeConfig, dim: number): { invFreq: Float64Array; scaling: number } {
  const scaling = r.attentionFactor ?? (r.mscale !== null && r.mscaleAllDim !== null
    ? yarnMscale(r.factor, r.mscale) / yarnMscale(r.factor, r.mscaleAllDim) : yarnMscale(r.factor));
  // The dimension whose wavelength completes `rotations` turns over the original context.
  const correctionDim = (rotations: number): number =>
    (dim * Math.log(r.originalMaxPositions / (rotations * 2 * Math.PI))) / (2 * Math.log(r.theta));
  let low = correctionDim(r.betaFast), high = correctionDim(r.betaSlow);
  if (r.truncate) { low = Math.floor(low); high = Math.ceil(high); }
  low = Math.max(low, 0); high = Math.min(high, dim - 1);
  if (low === high) high += 0.001;
  const base = baseInvFreq(r.theta, dim);
  const invFreq = base.map((extrapolated, i) => {
    const ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
    const extrapolationWeight = 1 - ramp;
    return (extrapolated / r.factor) * (1 - extrapolationWeight) + extrapolated * extrapolationWeight;
  });
  return { invFreq, scaling };
}

/**
 * Inverse frequencies and the cos/sin multiplier for a rotated width `dim`. `seqLen` (max position + 1) only
 * matters for `dynamic`, whose base grows once the sequence passes the original context.
 */
export function ropeFrequencies(r: RopeConfig, dim: number, seqLen: number): { invFreq: Float64Array; scaling: number } {
  switch (r.type) {
    case 'default': return { invFreq: baseInvFreq(r.theta, dim), scaling: 1 };
    case 'linear': return { invFreq: baseInvFreq(r.theta, dim).map((f) => f / r.factor), scaling: 1 };
    case 'dynamic': {
      if (seqLen <= r.originalMaxPositions) return { invFreq: baseInvFreq(r.theta, dim), scaling: 1 };
      const theta = r.theta * Math.pow((r.factor * seqLen) / r.originalMaxPositions - (r.factor - 1), dim / (dim - 2));
      return { invFreq: baseInvFreq(theta, dim), scaling: 1 };
    }
    case 'llama3': return { invFreq: llama3(baseInvFreq(r.theta, dim), r), scaling: 1 };
    case 'yarn': return yarn(r, dim);
  }
}

/** cos, sin [B, 1, T, dim] for position ids [B][T] (rotate-half layout: each angle appears in both halves). */
export function ropeTables(r: RopeConfig, dim: number, positions: readonly (readonly number[])[]): { cos: Tensor; sin: Tensor } {
  const B = positions.length, T = positions[0]?.length ?? 0, half = dim / 2;
  let maxPos = 0;
  for (const row of positions) for (const p of row) maxPos = Math.max(maxPos, p);
  const { invFreq, scaling } = ropeFrequencies(r, dim, maxPos + 1);
  const cos = new Float32Array(B * T * dim), sin = new Float32Array(B * T * dim);
  positions.forEach((row, b) => row.forEach((p, t) => {
    const o = (b * T + t) * dim;
    for (let i = 0; i < half; i++) {
      // HF computes the angle in float32; rounding it the same way keeps long positions in step.
      const angle = Math.fround(Math.fround(invFreq[i]!) * p);
      const c = Math.cos(angle) * scaling, s = Math.sin(angle) * scaling;
      cos[o + i] = c; cos[o + half + i] = c;
      sin[o + i] = s; sin[o + half + i] = s;
    }
  }));
  return { cos: tensor(cos, { shape: [B, 1, T, dim] }), sin: tensor(sin, { shape: [B, 1, T, dim] }) };
}
