// Helpers every op file uses: views for kernels, output allocation on the active backend, and recording
// the tape entry when any input requires a gradient.

import type { View } from '../../backend/backend.ts';
import { profiledOutside } from '../../backend/profile.ts';
import { getBackend } from '../../backend/registry.ts';
import { isGradEnabled } from '../autograd.ts';
import type { DType, FloatStorage, Storage, StorageOf } from '../dtype.ts';
import { numel, type Shape } from '../shape.ts';
import { Tensor, type GradFn } from '../tensor.ts';

export function view(t: Tensor): View {
  return { data: t.storage as FloatStorage, shape: t.shape, strides: t.strides, offset: t.offset };
}

export function anyView(t: Tensor): View<Storage> {
  return { data: t.storage, shape: t.shape, strides: t.strides, offset: t.offset };
}

/** While set, every storage alloc / allocOut hands out is added (backward's record of its own temporaries). */
let born: Set<Storage> | null = null;

/** Starts recording the storages ops allocate into `into`, or stops (null). */
export function recordAllocations(into: Set<Storage> | null): void {
  born = into;
}

/** Zero-filled storage on the active backend (for outputs that are accumulated into or only partly written). */
export const alloc = profiledOutside('alloc (zeroed)', <D extends DType>(dtype: D, shape: Shape): StorageOf[D] => {
  const s = getBackend().alloc(dtype, numel(shape));
  born?.add(s);
  return s;
});

/** Storage with unspecified contents, for an output its kernel or loop writes in full (no zero fill). */
export const allocOut = profiledOutside('alloc (output)', <D extends DType>(dtype: D, shape: Shape): StorageOf[D] => {
  const b = getBackend();
  const s = b.allocUninit ? b.allocUninit(dtype, numel(shape)) : b.alloc(dtype, numel(shape));
  born?.add(s);
  return s;
});

/** Returns a storage's memory to the active backend now (see Backend.release); a no-op where it cannot. */
export function releaseStorage(s: Storage): void {
  getBackend().release?.(s);
}

/** The elements of a contiguous float tensor as a typed array from element 0 (a subarray: views keep an offset). */
export function floatStorage(t: Tensor): FloatStorage {
  if (!t.isContiguous) throw new Error(`floatStorage needs a contiguous tensor, got ${t.toString()}`);
  const s = t.storage as FloatStorage;
  return t.offset === 0 && s.length === t.size ? s : s.subarray(t.offset, t.offset + t.size);
}

/**
 * dst[d, d + n) += src[s, s + n), for the scatter-adds of backward passes written in JS. One loop per element
 * type, so each stays monomorphic: a loop that saw both types ran ~12 ns an element in the demo model's training
 * step, these ~4.
 */
export function addSpan(dst: FloatStorage, d: number, src: FloatStorage, s: number, n: number): void {
  if (dst instanceof Float32Array && src instanceof Float32Array) addSpan32(dst, d, src, s, n);
  else addSpan64(dst as Float64Array, d, src as Float64Array, s, n);
}
function addSpan32(dst: Float32Array, d: number, src: Float32Array, s: number, n: number): void {
  for (let i = 0; i < n; i++) dst[d + i] = dst[d + i]! + src[s + i]!;
}
function addSpan64(dst: Float64Array, d: number, src: Float64Array, s: number, n: number): void {
  for (let i = 0; i < n; i++) dst[d + i] = dst[d + i]! + src[s + i]!;
}

/** Wraps a freshly computed storage in a tensor and records how to differentiate it. */
export function output(storage: Storage, dtype: DType, shape: Shape, inputs: readonly (Tensor | null)[], name: string,
  backward: GradFn['backward'], strides?: readonly number[]): Tensor {
  const t = new Tensor(storage, dtype, shape, strides);
  if (isGradEnabled() && inputs.some((x) => x?.requiresGrad)) {
    t.requiresGrad = true;
    t.gradFn = { name, inputs, backward };
  }
  return t;
}

/** A view sharing x's storage, on the tape as op `name` (a slice also says which window of x it is). */
export function viewOf(x: Tensor, shape: Shape, strides: readonly number[], offset: number, name: string,
  backward: GradFn['backward'], window?: GradFn['window']): Tensor {
  const t = new Tensor(x.storage, x.dtype, shape, strides, offset);
  if (isGradEnabled() && x.requiresGrad) {
    t.requiresGrad = true;
    t.gradFn = window ? { name, inputs: [x], backward, window } : { name, inputs: [x], backward };
  }
  return t;
}

export function assertFloat(t: Tensor, op: string): void {
  if (t.dtype !== 'float32' && t.dtype !== 'float64') {
    throw new Error(`${op} needs a float32 or float64 tensor, got ${t.dtype} ${t.toString()}`);
  }
}

export function assertSameDtype(a: Tensor, b: Tensor, op: string): void {
  if (a.dtype !== b.dtype) throw new Error(`${op}: dtype mismatch ${a.dtype} vs ${b.dtype}`);
}
