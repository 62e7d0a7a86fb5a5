// Elementwise ops with broadcasting: unary activations, binary arithmetic, comparisons, where/maskedFill,
// casts. A broadcast input's gradient is summed back to its own shape (sumToShape).

import type { BinaryOp, CompareOp, UnaryOp } from '../../backend/backend.ts';
import { kernel } from '../../backend/registry.ts';
import type { DType } from '../dtype.ts';
import { allocStorage, f32ToBf16, f32ToF16, isFloat } from '../dtype.ts';
import { broadcastShapes, broadcastStrides, sameShape, type Shape } from '../shape.ts';
import { Tensor } from '../tensor.ts';
import { full } from './creation.ts';
import { allocOut, anyView, assertFloat, output, view } from './util.ts';
import { reshape } from './movement.ts';
import { sum } from './reduce.ts';

export type TensorLike = Tensor | number;

function lift(x: TensorLike, like: Tensor): Tensor {
  return typeof x === 'number' ? full([], x, like.dtype) : x;
}

/** Sums g over the dimensions that were broadcast to produce it, giving a tensor of `shape`. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  return reshape(sum(g, axes, true), shape);
}

export function unaryOp(op: UnaryOp, x: Tensor): Tensor {
  assertFloat(x, op);
  const out = allocOut(x.dtype, x.shape);
  kernel('unary', x.dtype)(op, view(x), out as Float32Array);
  return output(out, x.dtype, x.shape, [x], op, (g) => {
    const gc = contiguousData(g);
    const dx = allocOut(x.dtype, x.shape);
    kernel('unaryBackward', x.dtype)(op, view(x), gc.storage as Float32Array, dx as Float32Array);
    return [new Tensor(dx, x.dtype, x.shape)];
  });
}

function contiguousData(t: Tensor): Tensor {
  if (t.isContiguous && t.offset === 0) return t;
  const out = allocOut(t.dtype, t.shape);
  kernel('copy', t.dtype)(anyView(t), out);
  return new Tensor(out, t.dtype, t.shape);
}

export const neg = (x: Tensor): Tensor => unaryOp('neg', x);
export const exp = (x: Tensor): Tensor => unaryOp('exp', x);
export const log = (x: Tensor): Tensor => unaryOp('log', x);
export const sqrt = (x: Tensor): Tensor => unaryOp('sqrt', x);
export const rsqrt = (x: Tensor): Tensor => unaryOp('rsqrt', x);
export const abs = (x: Tensor): Tensor => unaryOp('abs', x);
export const tanh = (x: Tensor): Tensor => unaryOp('tanh', x);
export const sigmoid = (x: Tensor): Tensor => unaryOp('sigmoid', x);
export const relu = (x: Tensor): Tensor => unaryOp('relu', x);
export const silu = (x: Tensor): Tensor => unaryOp('silu', x);
export const gelu = (x: Tensor): Tensor => unaryOp('gelu', x);
export const geluTanh = (x: Tensor): Tensor => unaryOp('geluTanh', x);
export const quickGelu = (x: Tensor): Tensor => unaryOp('quickGelu', x);
export const square = (x: Tensor): Tensor => unaryOp('square', x);
export const sin = (x: Tensor): Tensor => unaryOp('sin', x);
export const cos = (x: Tensor): Tensor => unaryOp('cos', x);

export function binaryOp(op: BinaryOp, aIn: TensorLike, bIn: TensorLike): Tensor {
  if (typeof aIn === 'number' && typeof bIn === 'number') throw new Error(`${op}: needs at least one tensor`);
  const a = typeof aIn === 'number' ? lift(aIn, bIn as Tensor) : aIn;
  const b = lift(bIn, a);
  assertFloat(a, op);
  assertFloat(b, op);
  if (a.dtype !== b.dtype) throw new Error(`${op}: dtype mismatch ${a.dtype} vs ${b.dtype}`);
  const shape = broadcastShapes(a.shape, b.shape);
  const out = allocOut(a.dtype, shape);
  const va = { ...view(a), strides: broadcastStrides(a.shape, a.strides, shape) };
  const vb = { ...view(b), strides: broadcastStrides(b.shape, b.strides, shape) };
  kernel('binary', a.dtype)(op, va, vb, shape, out as Float32Array);
  return output(out, a.dtype, shape, [a, b], op, (g) => binaryBackward(op, a, b, g));
}

function binaryBackward(op: BinaryOp, a: Tensor, b: Tensor, g: Tensor): (Tensor | null)[] {
  const ga = a.requiresGrad, gb = b.requiresGrad;
  const red = (t: Tensor, like: Tensor) => sumToShape(t, like.shape);
  switch (op) {
    case 'add': return [ga ? red(g, a) : null, gb ? red(g, b) : null];
    case 'sub': return [ga ? red(g, a) : null, gb ? red(neg(g), b) : null];
    case 'mul': return [ga ? red(mul(g, b), a) : null, gb ? red(mul(g, a), b) : null];
    case 'div': return [ga ? red(div(g, b), a) : null, gb ? red(neg(div(mul(g, a), mul(b, b))), b) : null];
    case 'pow': return [
      ga ? red(mul(g, mul(b, pow(a, sub(b, 1)))), a) : null,
      gb ? red(mul(g, mul(pow(a, b), log(a))), b) : null,
    ];
    case 'maximum': case 'minimum': {
      // the winner takes the gradient; ties split it evenly (as torch)
      const win = op === 'maximum' ? compareOp('gt', a, b) : compareOp('lt', a, b);
      const tie = compareOp('eq', a, b);
      const wa = add(cast(win, a.dtype), mul(cast(tie, a.dtype), 0.5));
      return [ga ? red(mul(g, wa), a) : null, gb ? red(mul(g, sub(1, wa)), b) : null];
    }
  }
}

export const add = (a: TensorLike, b: TensorLike): Tensor => binaryOp('add', a, b);
export const sub = (a: TensorLike, b: TensorLike): Tensor => binaryOp('sub', a, b);
export const mul = (a: TensorLike, b: TensorLike): Tensor => binaryOp('mul', a, b);
export const div = (a: TensorLike, b: TensorLike): Tensor => binaryOp('div', a, b);
export const pow = (a: TensorLike, b: TensorLike): Tensor => binaryOp('pow', a, b);
export const maximum = (a: TensorLike, b: TensorLike): Tensor => binaryOp('maximum', a, b);
export const minimum = (a: TensorLike, b: TensorLike): Tensor => binaryOp('minimum', a, b);

/** Elementwise comparison into a bool tensor (ints are compared as numbers). */
export function compareOp(op: CompareOp, aIn: TensorLike, bIn: TensorLike): Tensor {
  const a = typeof aIn === 'number' ? full([], aIn, 'float64') : aIn;
  const b = typeof bIn === 'number' ? full([], bIn, 'float64') : bIn;
  const fa = numeric(a), fb = numeric(b);
  const shape = broadcastShapes(a.shape, b.shape);
  const out = allocOut('bool', shape);
  const va = { ...view(fa), strides: broadcastStrides(fa.shape, fa.strides, shape) };
  const vb = { ...view(fb), strides: broadcastStrides(fb.shape, fb.strides, shape) };
  kernel('compare', 'float64')(op, va, vb, shape, out);
  return new Tensor(out, 'bool', shape);
}

/** Float or int32/bool tensors are read directly; int64 and 16-bit floats through a float64 copy. */
function numeric(t: Tensor): Tensor {
  if (t.dtype === 'float32' || t.dtype === 'float64' || t.dtype === 'int32' || t.dtype === 'bool') return t;
  return cast(t, 'float64');
}

/** Converts to another dtype (a new tensor; float→int truncates toward zero). Differentiable between floats. */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  const n = x.size;
  const out = allocOut(dtype, x.shape);
  const vals = x.toFloat64();
  if (dtype === 'int64') for (let i = 0; i < n; i++) (out as BigInt64Array)[i] = BigInt(Math.trunc(vals[i]!));
  else if (dtype === 'float16' || dtype === 'bfloat16') {
    const tmp = allocStorage('float32', n);
    for (let i = 0; i < n; i++) tmp[i] = vals[i]!;
    const enc = dtype === 'float16' ? f32ToF16 : f32ToBf16;
    for (let i = 0; i < n; i++) (out as Uint16Array)[i] = enc(tmp[i]!);
  } else if (dtype === 'bool') for (let i = 0; i < n; i++) (out as Uint8Array)[i] = vals[i] ? 1 : 0;
  else if (dtype === 'int32') for (let i = 0; i < n; i++) (out as Int32Array)[i] = Math.trunc(vals[i]!);
  else for (let i = 0; i < n; i++) (out as Float64Array)[i] = vals[i]!;
  if (isFloat(x.dtype) && isFloat(dtype)) return output(out, dtype, x.shape, [x], 'cast', (g) => [cast(g, x.dtype)]);
  return new Tensor(out, dtype, x.shape);
}

/** cond ? a : b, broadcasting all three; cond is bool (or any dtype, nonzero = true). */
export function where(cond: Tensor, aIn: TensorLike, bIn: TensorLike): Tensor {
  const a = typeof aIn === 'number' ? full([], aIn, typeof bIn === 'number' ? 'float32' : bIn.dtype) : aIn;
  const b = lift(bIn, a);
  const c = cast(cond, a.dtype);
  // c*a + (1-c)*b would turn inf*0 into NaN: select elementwise instead
  const shape = broadcastShapes(broadcastShapes(c.shape, a.shape), b.shape);
  const out = allocOut(a.dtype, shape) as Float64Array;
  const pick = (t: Tensor) => expandData(t, shape);
  const cd = pick(c), ad = pick(a), bd = pick(b);
  for (let i = 0; i < out.length; i++) out[i] = cd[i] ? ad[i]! : bd[i]!;
  return output(out, a.dtype, shape, [a, b], 'where', (g) => {
    const zero = full([], 0, g.dtype);
    return [
      a.requiresGrad ? sumToShape(where(cond, g, zero), a.shape) : null,
      b.requiresGrad ? sumToShape(where(cond, zero, g), b.shape) : null,
    ];
  });
}

/** x with value wherever mask is true (mask broadcasts to x). */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  return where(mask, full([], value, x.dtype), x);
}

function expandData(t: Tensor, shape: Shape): Float64Array {
  const out = allocOut(t.dtype, shape) as Float64Array;
  kernel('copy', t.dtype)({ data: t.storage, shape, strides: broadcastStrides(t.shape, t.strides, shape), offset: t.offset }, out);
  return out;
}

