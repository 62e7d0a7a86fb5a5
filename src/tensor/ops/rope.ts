// Rotary position embeddings (Su et al., RoFormer). Two layouts: rotate-half (HF Llama: the two halves of
// each head are the pairs) and interleaved (GPT-J / Meta: adjacent elements are the pairs). Built from
// primitives, so the gradient comes from theirs; a fused kernel can replace it and be checked against it.

import { shapeStr } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { add, mul, neg } from './elementwise.ts';
import { concat, reshape, slice, stack } from './movement.ts';

/** cos/sin tables [T, D/2] for positions 0..T-1 (or given positions), inv_freq = theta^(-2i/D) · scaling. */
export function ropeAngles(positions: readonly number[], invFreq: Float64Array): { cos: Float64Array; sin: Float64Array } {
  const half = invFreq.length, T = positions.length;
  const cos = new Float64Array(T * half), sin = new Float64Array(T * half);
  positions.forEach((p, t) => {
    for (let i = 0; i < half; i++) {
      const a = p * invFreq[i]!;
      cos[t * half + i] = Math.cos(a);
      sin[t * half + i] = Math.sin(a);
    }
  });
  return { cos, sin };
}

export function rotateHalf(x: Tensor): Tensor {
  const D = x.shape[x.ndim - 1]!;
  return concat([neg(slice(x, -1, D / 2)), slice(x, -1, 0, D / 2)], -1);
}

/**
 * x [..., T, D]; cos, sin broadcastable to [..., T, D] (rotate-half: each angle repeated for both halves,
 * as HF's `emb = cat(freqs, freqs)`), or to [..., T, D/2] when interleaved.
 */
export function applyRope(x: Tensor, cos: Tensor, sin: Tensor, interleaved = false): Tensor {
  const D = x.shape[x.ndim - 1]!;
  if (D % 2) throw new Error(`rope: head dim ${D} is odd (x ${shapeStr(x.shape)})`);
  if (!interleaved) return add(mul(x, cos), mul(rotateHalf(x), sin));
  const pairs = reshape(x, [...x.shape.slice(0, -1), D / 2, 2]);
  const x0 = reshape(slice(pairs, -1, 0, 1), [...x.shape.slice(0, -1), D / 2]);
  const x1 = reshape(slice(pairs, -1, 1, 2), [...x.shape.slice(0, -1), D / 2]);
  const y0 = add(mul(x0, cos), neg(mul(x1, sin)));
  const y1 = add(mul(x1, cos), mul(x0, sin));
  return reshape(stack([y0, y1], -1), x.shape);
}
