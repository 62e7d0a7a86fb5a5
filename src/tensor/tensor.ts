// Tensor: a typed-array storage plus shape, strides and offset (so views share storage), and the autograd
// fields (requiresGrad, grad, gradFn). Ops live in ./ops/ and are attached as methods in ./index.ts.
// A tensor's values are never mutated by ops; only optimisers write parameters in place, under noGrad.

import type { DType, Storage, StorageOf } from './dtype.ts';
import { allocStorage, toFloat32 } from './dtype.ts';
import { copy } from '../backend/reference/elementwise.ts';
import { checkShape, contiguousStrides, numel, shapeStr, type Shape } from './shape.ts';

/** The record an op leaves on its output: how to turn the output's gradient into its inputs' gradients. */
export interface GradFn {
  readonly name: string;
  readonly inputs: readonly (Tensor | null)[];
  /** Gradients for each input, in order; null where an input needs none. Runs under noGrad. */
  backward(grad: Tensor): (Tensor | null)[];
  /**
   * Set by slice: the output is the input's elements start, start + step, … along `axis`. backward() then
   * collects the gradients of every window of one input and builds that input's gradient once (one concat where
   * the windows tile it, e.g. q, k and v sliced from one fused projection), instead of a zero-filled copy of the
   * whole input per window summed together.
   */
  readonly window?: { readonly axis: number; readonly start: number; readonly step: number };
}

let nextId = 1;

export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
  readonly storage: Storage;
  /** Set on leaves that want a gradient (parameters), and on op outputs that depend on such a leaf. */
  requiresGrad = false;
  grad: Tensor | null = null;
  gradFn: GradFn | null = null;
  /** Optional name for traces and error messages. */
  name: string | undefined;

  constructor(storage: Storage, dtype: DType, shape: Shape, strides?: readonly number[], offset = 0) {
    checkShape(shape);
    this.storage = storage;
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze(strides ? [...strides] : contiguousStrides(shape));
    this.offset = offset;
    if (!strides && offset + numel(shape) > storage.length) {
      throw new Error(`storage of ${storage.length} elements is too small for shape ${shapeStr(shape)}`);
    }
  }

  get ndim(): number {
    return this.shape.length;
  }

  get size(): number {
    return numel(this.shape);
  }

  /** True when elements are laid out row-major without gaps from `offset`. */
  get isContiguous(): boolean {
    let s = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.strides[i] !== s) return false;
      s *= this.shape[i]!;
    }
    return true;
  }

  /** A leaf tensor that accumulates a gradient in `.grad` on backward(). */
  requireGrad(flag = true): this {
    if (flag && this.dtype !== 'float32' && this.dtype !== 'float64') {
      throw new Error(`only float tensors can require gradients (got ${this.dtype})`);
    }
    this.requiresGrad = flag;
    return this;
  }

  /** The data as a fresh contiguous typed array of the tensor's dtype. */
  toArray(): Storage {
    const n = this.size;
    if (this.isContiguous) return this.storage.slice(this.offset, this.offset + n) as Storage;
    const out = allocStorage(this.dtype, n);
    copy({ data: this.storage, shape: this.shape, strides: this.strides, offset: this.offset }, out);
    return out;
  }

  /** The data as float32 numbers, for inspection and tests. */
  toFloat32Array(): Float32Array {
    return toFloat32(this.dtype, this.toArray());
  }

  /** Plain numbers (int64 converted with Number()). */
  toList(): number[] {
    return Array.from(this.toFloat64());
  }

  toFloat64(): Float64Array {
    const a = this.toArray();
    if (this.dtype === 'float64') return a as Float64Array;
    if (this.dtype === 'int64') return Float64Array.from(a as BigInt64Array, (v) => Number(v));
    if (this.dtype === 'float16' || this.dtype === 'bfloat16') return Float64Array.from(toFloat32(this.dtype, a));
    return Float64Array.from(a as Float32Array);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item() needs one element, tensor has shape ${shapeStr(this.shape)}`);
    return this.toFloat64()[0]!;
  }

  toString(): string {
    return `Tensor(${this.dtype}, ${shapeStr(this.shape)}${this.name ? `, ${this.name}` : ''})`;
  }
}

/** Calls fn with the storage position of every element, in row-major order. */
export function forEachIndex(shape: Shape, strides: readonly number[], offset: number, fn: (pos: number) => void): void {
  const nd = shape.length;
  const n = numel(shape);
  if (n === 0) return;
  if (nd === 0) { fn(offset); return; }
  const idx = new Array<number>(nd).fill(0);
  let pos = offset;
  const last = nd - 1;
  const lastDim = shape[last]!;
  const lastStride = strides[last]!;
  for (let done = 0; done < n; done += lastDim) {
    for (let j = 0; j < lastDim; j++) fn(pos + j * lastStride);
    // carry into the outer dimensions
    for (let d = last - 1; d >= 0; d--) {
      idx[d]!++;
      pos += strides[d]!;
      if (idx[d]! < shape[d]!) break;
      pos -= strides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

export type { StorageOf };
