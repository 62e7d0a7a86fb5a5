// Reference scaled dot-product attention with a causal option, an additive mask and grouped KV heads,
// forward (saving the log-sum-exp of each score row) and backward (recomputing the probabilities).
// softmax(q·kᵀ·scale + mask)·v, as torch.nn.functional.scaled_dot_product_attention. A query row whose keys
// are all masked with -inf yields zeros (not NaN), so left-padding rows never poison later layers; one masked
// with a finite fill (transformers' finfo.min) attends uniformly to every key, as torch's eager softmax does.

import type { AttentionArgs, Kernels } from '../backend.ts';
import type { FloatStorage } from '../../tensor/dtype.ts';

/** Offset of row (b, head, t) of a [B, heads, T, D] ('bhtd') or [B, T, heads, D] ('bthd') tensor. */
export function rowOffset(layout: AttentionArgs['layout'], b: number, head: number, t: number, heads: number, T: number, D: number): number {
  return (layout === 'bthd' ? (b * T + t) * heads + head : (b * heads + head) * T + t) * D;
}

/** Fills s[0..Tk) with the masked, scaled scores of one query row; returns the row max. */
function scoreRow(q: FloatStorage, k: FloatStorage, a: AttentionArgs, b: number, h: number, i: number, s: Float64Array): number {
  const { H, Hkv, Tq, Tk, D, scale, causal, mask, layout } = a;
  const kh = Math.floor(h / (H / Hkv));
  const qo = rowOffset(layout, b, h, i, H, Tq, D);
  const limit = causal ? Tk - Tq + i : Tk - 1;
  let max = -Infinity;
  for (let j = 0; j < Tk; j++) {
    if (j > limit) { s[j] = -Infinity; continue; }
    const ko = rowOffset(layout, b, kh, j, Hkv, Tk, D);
    let dot = 0;
    for (let d = 0; d < D; d++) dot += q[qo + d]! * k[ko + d]!;
    let v = dot * scale;
    if (mask) v += mask.data[mask.offset + b * mask.strides[0]! + h * mask.strides[1]! + i * mask.strides[2]! + j * mask.strides[3]!]!;
    s[j] = v;
    if (v > max) max = v;
  }
  return max;
}

export const attention: Kernels['attention'] = (q, k, v, a, out, lse) => {
  const { B, H, Hkv, Tq, Tk, D, layout } = a;
  const s = new Float64Array(Tk);
  const acc = new Float64Array(D);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    const kh = Math.floor(h / (H / Hkv));
    for (let i = 0; i < Tq; i++) {
      const max = scoreRow(q, k, a, b, h, i, s);
      const row = (b * H + h) * Tq + i;
      const o = rowOffset(layout, b, h, i, H, Tq, D);
      acc.fill(0);
      if (max === -Infinity) { lse[row] = -Infinity; out.fill(0, o, o + D); continue; }
      let sum = 0;
      for (let j = 0; j < Tk; j++) {
        const p = Math.exp(s[j]! - max);
        if (p === 0) continue;
        sum += p;
        const vo = rowOffset(layout, b, kh, j, Hkv, Tk, D);
        for (let d = 0; d < D; d++) acc[d] = acc[d]! + p * v[vo + d]!;
      }
      lse[row] = max + Math.log(sum);
      for (let d = 0; d < D; d++) out[o + d] = acc[d]! / sum;
    }
  }
};

export const attentionBackward: Kernels['attentionBackward'] = (q, k, v, out, lse, gOut, a, dq, dk, dv) => {
  const { B, H, Hkv, Tq, Tk, D, scale, layout } = a;
  dq.fill(0); dk.fill(0); dv.fill(0);
  const s = new Float64Array(Tk);
  const dp = new Float64Array(Tk);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    const kh = Math.floor(h / (H / Hkv));
    for (let i = 0; i < Tq; i++) {
      const row = (b * H + h) * Tq + i;
      let L = lse[row]!;
      if (L === -Infinity) continue;
      const max = scoreRow(q, k, a, b, h, i, s);
      // A row masked everywhere with a finite fill (transformers' finfo.min) has max ≈ −3.4e38, where
      // max + log(sum) rounds back to max; recompute log(sum) from the exact shifted scores instead.
      if (max < -1e30) {
        let sum = 0;
        for (let j = 0; j < Tk; j++) { s[j] = s[j]! - max; sum += Math.exp(s[j]!); }
        L = Math.log(sum);
      }
      const go = rowOffset(layout, b, h, i, H, Tq, D);
      // delta = rowsum(gOut * out)
      let delta = 0;
      for (let d = 0; d < D; d++) delta += gOut[go + d]! * out[go + d]!;
      for (let j = 0; j < Tk; j++) {
        const p = Math.exp(s[j]! - L);
        s[j] = p;
        if (p === 0) { dp[j] = 0; continue; }
        const vo = rowOffset(layout, b, kh, j, Hkv, Tk, D);
        let g = 0;
        for (let d = 0; d < D; d++) { g += gOut[go + d]! * v[vo + d]!; dv[vo + d] = dv[vo + d]! + p * gOut[go + d]!; }
        dp[j] = p * (g - delta) * scale; // d score (pre-scale), times scale for q·k
      }
      for (let j = 0; j < Tk; j++) {
        const ds = dp[j]!;
        if (ds === 0) continue;
        const ko = rowOffset(layout, b, kh, j, Hkv, Tk, D);
        for (let d = 0; d < D; d++) {
          dq[go + d] = dq[go + d]! + ds * k[ko + d]!;
          dk[ko + d] = dk[ko + d]! + ds * q[go + d]!;
        }
      }
    }
  }
};
