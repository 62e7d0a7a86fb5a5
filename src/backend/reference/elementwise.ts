// Reference elementwise kernels: copy, unary (+ derivative), binary and compare with broadcasting through strides.

import type { BinaryOp, CompareOp, Kernels, UnaryOp, View } from '../backend.ts';
import type { FloatStorage, Storage } from '../../tensor/dtype.ts';
import type { Shape } from '../../tensor/shape.ts';
import { unaryDerivative, unaryFn } from './math.ts';
import { walk1, walk2 } from './iter.ts';

export const copy: Kernels['copy'] = (x: View<Storage>, out: Storage) => {
  const src = x.data as Float32Array, dst = out as Float32Array;
  walk1(x.shape, x.strides, x.offset, (i, p) => { dst[i] = src[p]!; });
};

export const unary: Kernels['unary'] = (op: UnaryOp, x: View, out: FloatStorage) => {
  const f = unaryFn(op), src = x.data;
  walk1(x.shape, x.strides, x.offset, (i, p) => { out[i] = f(src[p]!); });
};

export const unaryBackward: Kernels['unaryBackward'] = (op: UnaryOp, x: View, gy: FloatStorage, out: FloatStorage) => {
  const df = unaryDerivative(op), src = x.data;
  walk1(x.shape, x.strides, x.offset, (i, p) => { out[i] = gy[i]! * df(src[p]!); });
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
  const f = binaryFn(op), da = a.data, db = b.data;
  walk2(shape, a.strides, a.offset, b.strides, b.offset, (i, pa, pb) => { out[i] = f(da[pa]!, db[pb]!); });
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
  const f = compareFn(op), da = a.data, db = b.data;
  walk2(shape, a.strides, a.offset, b.strides, b.offset, (i, pa, pb) => { out[i] = f(da[pa]!, db[pb]!) ? 1 : 0; });
};
