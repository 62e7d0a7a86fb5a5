// Fused ops with one kernel each, forward and backward: SwiGLU (silu(gate)·up) and rotate-half RoPE over a
// [B, T, heads, D] tensor with per-position tables. Their primitive compositions (silu·mul; applyRope in
// rope.ts) are the definitions they are tested against.

import { kernel } from '../../backend/registry.ts';
import { sameShape, shapeStr } from '../shape.ts';
import { Tensor } from '../tensor.ts';
import { contiguous } from './movement.ts';
import { allocOut, assertFloat, floatStorage, output } from './util.ts';

/** silu(a) · b for same-shaped a, b. */
export function swiglu(aIn: Tensor, bIn: Tensor): Tensor {
  assertFloat(aIn, 'swiglu');
  if (!sameShape(aIn.shape, bIn.shape) || aIn.dtype !== bIn.dtype) throw new Error(`swiglu: ${aIn.toString()} and ${bIn.toString()} differ`);
  const a = contiguous(aIn), b = contiguous(bIn);
  const out = allocOut(a.dtype, a.shape);
  kernel('swiglu', a.dtype)(floatStorage(a), floatStorage(b), out as Float32Array);
  return output(out, a.dtype, a.shape, [a, b], 'swiglu', (g) => {
    const da = allocOut(a.dtype, a.shape), db = allocOut(a.dtype, a.shape);
    kernel('swigluBackward', a.dtype)(floatStorage(a), floatStorage(b), floatStorage(contiguous(g)), da as Float32Array, db as Float32Array);
    return [new Tensor(da, a.dtype, a.shape), new Tensor(db, a.dtype, a.shape)];
  });
}

/**
 * Rotate-half RoPE of x [B, T, heads, D] on its first R channels per head. cos/sin are [T, R] (shared by the
 * batch) or [B, T, R] (per sequence; any shape with T·R or B·T·R elements in that order), HF's full-width
 * tables (`cat(freqs, freqs)`). Equals applyRope on the first R channels.
 */
export function rope(xIn: Tensor, cosIn: Tensor, sinIn: Tensor): Tensor {
  assertFloat(xIn, 'rope');
  if (xIn.ndim !== 4) throw new Error(`rope: x must be [B, T, heads, D], got ${shapeStr(xIn.shape)}`);
  const [B, T, heads, D] = xIn.shape as [number, number, number, number];
  const R = cosIn.shape[cosIn.ndim - 1]!;
  const tableRows = cosIn.size / R;
  if (R % 2 || R > D || (tableRows !== T && tableRows !== B * T) || sinIn.size !== cosIn.size) {
    throw new Error(`rope: tables ${shapeStr(cosIn.shape)} do not fit x ${shapeStr(xIn.shape)}`);
  }
  const x = contiguous(xIn), cos = floatStorage(contiguous(cosIn.to(xIn.dtype))), sin = floatStorage(contiguous(sinIn.to(xIn.dtype)));
  const args = { rows: B * T, heads, headDim: D, rotary: R, tableRows, inverse: false };
  const out = allocOut(x.dtype, x.shape);
  kernel('rope', x.dtype)(floatStorage(x), cos, sin, args, out as Float32Array);
  return output(out, x.dtype, x.shape, [x], 'rope', (g) => {
    const dx = allocOut(x.dtype, x.shape);
    kernel('rope', x.dtype)(floatStorage(contiguous(g)), cos, sin, { ...args, inverse: true }, dx as Float32Array);
    return [new Tensor(dx, x.dtype, x.shape)];
  });
}
