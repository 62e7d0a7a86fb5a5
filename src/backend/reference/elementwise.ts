// Reference elementwise kernels: copy, unary (+ derivative), binary and compare with broadcasting through strides.

import type { BinaryOp, CompareOp, Kernels, UnaryOp, View } from '../backend.ts';
import type { FloatStorage, Storage } from '../../tensor/dtype.ts';
import type { Shape } from '../../tensor/shape.ts';
import { unaryDerivative, unaryFn } from './math.ts';
import { rows2 } from './iter.ts';

/** The output's strides are those of a contiguous array; rows2 walks it as the second view. */
function outStrides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let k = 1;
  for (let d = shape.length - 1; d >= 0; d--) { s[d] = k; k *= shape[d]!; }
  return s;
}

export const copy: Kernels['copy'] = (x: View<Storage>, out: Storage) => {
  const src = x.data as Float32Array, dst = out as Float32Array;
  rows2(x.shape, x.strides, x.offset, outStrides(x.shape), 0, (i, p, _q, n, dp) => {
    if (dp === 1) dst.set(src.subarray(p, p + n), i);
    else for (let j = 0; j < n; j++) dst[i + j] = src[p + j * dp]!;
  });
};

export const unary: Kernels['unary'] = (op: UnaryOp, x: View, out: FloatStorage) => {
  const f = unaryFn(op), src = x.data;
  rows2(x.shape, x.strides, x.offset, outStrides(x.shape), 0, (i, p, _q, n, dp) => {
    for (let j = 0; j < n; j++) out[i + j] = f(src[p + j * dp]!);
  });
};

export const unaryBackward: Kernels['unaryBackward'] = (op: UnaryOp, x: View, gy: FloatStorage, out: FloatStorage) => {
  const df = unaryDerivative(op), src = x.data;
  rows2(x.shape, x.strides, x.offset, outStrides(x.shape), 0, (i, p, _q, n, dp) => {
    for (let j = 0; j < n; j++) out[i + j] = gy[i + j]! * df(src[p + j * dp]!);
  });
};

function binaryFn(op: BinaryOp): (a: number, b: number) => number {
  switch (op) {
    case 'add': return (a, b) => a + b;
    case 'sub': return (a, b) => a - b;
    case 'mul': return (a, b) => a * b;
    case 'div': return (a, b) => a / b;
    case 'pow': return Math.pow;
    case 'maximum': return (a, b) => (a >= b || Number.isNaN(a) ? a : b);
    case 'minimum': return (a, b) => (a <= b || Number.isNaN(a) ? a : b);
  }
}

export const binary: Kernels['binary'] = (op: BinaryOp, a: View, b: View, shape: Shape, out: FloatStorage) => {
  const f = binaryFn(op), x = a.data, y = b.data;
  rows2(shape, a.strides, a.offset, b.strides, b.offset, (i, pa, pb, n, sa, sb) => {
    // the four arithmetic ops inline (same arithmetic as binaryFn, without a call per element)
    switch (op) {
      case 'add': for (let j = 0; j < n; j++) out[i + j] = x[pa + j * sa]! + y[pb + j * sb]!; break;
      case 'sub': for (let j = 0; j < n; j++) out[i + j] = x[pa + j * sa]! - y[pb + j * sb]!; break;
      case 'mul': for (let j = 0; j < n; j++) out[i + j] = x[pa + j * sa]! * y[pb + j * sb]!; break;
      case 'div': for (let j = 0; j < n; j++) out[i + j] = x[pa + j * sa]! / y[pb + j * sb]!; break;
      default: for (let j = 0; j < n; j++) out[i + j] = f(x[pa + j * sa]!, y[pb + j * sb]!);
    }
  });
};

function compareFn(op: CompareOp): (a: number, b: number) => boolean {
  switch (op) {
    case 'eq': return (a, b) => a === b;
    case 'ne': return (a, b) => a !== b;
    case 'lt': return (a, b) => a < b;
    case 'le': return (a, b) => a <= b;
    case 'gt': return (a, b) => a > b;
    case 'ge': return (a, b) => a >= b;
  }
}

export const compare: Kernels['compare'] = (op: CompareOp, a: View, b: View, shape: Shape, out: Uint8Array) => {
  const f = compareFn(op), x = a.data, y = b.data;
  rows2(shape, a.strides, a.offset, b.strides, b.offset, (i, pa, pb, n, sa, sb) => {
    for (let j = 0; j < n; j++) out[i + j] = f(x[pa + j * sa]!, y[pb + j * sb]!) ? 1 : 0;
  });
};
