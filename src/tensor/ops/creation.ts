// Making tensors: from arrays, constants, ranges and seeded random numbers (a PRNG of our own, so runs
// are reproducible across machines and backends).

import type { DType, Storage } from '../dtype.ts';
import { allocStorage } from '../dtype.ts';
import { checkShape, numel, shapeStr, type Shape } from '../shape.ts';
import { Tensor } from '../tensor.ts';
import { alloc, allocOut } from './util.ts';

export type NestedNumbers = number | readonly NestedNumbers[];

function inferShape(x: NestedNumbers): number[] {
  const shape: number[] = [];
  let cur: NestedNumbers = x;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = (cur as readonly NestedNumbers[])[0] ?? 0;
  }
  return shape;
}

function flattenNested(x: NestedNumbers, out: number[] = []): number[] {
  if (typeof x === 'number') out.push(x);
  else for (const v of x) flattenNested(v, out);
  return out;
}

/** A tensor from nested arrays or a flat typed array (with a shape). */
export function tensor(data: NestedNumbers | ArrayLike<number> | Storage, opts: { shape?: Shape; dtype?: DType } = {}): Tensor {
  const dtype = opts.dtype ?? (data instanceof Float64Array ? 'float64' : data instanceof Int32Array ? 'int32'
    : data instanceof BigInt64Array ? 'int64' : data instanceof Uint8Array ? 'bool' : 'float32');
  let flat: ArrayLike<number> | BigInt64Array;
  let shape: number[];
  if (typeof data === 'number') { flat = [data]; shape = []; }
  else if (Array.isArray(data)) { shape = inferShape(data as NestedNumbers); flat = flattenNested(data as NestedNumbers); }
  else { flat = data as ArrayLike<number>; shape = [flat.length]; }
  if (opts.shape) shape = [...opts.shape];
  checkShape(shape);
  if (numel(shape) !== flat.length) throw new Error(`tensor(): ${flat.length} values do not fill shape ${shapeStr(shape)}`);
  const storage = allocOut(dtype, shape);
  if (dtype === 'int64') {
    const s = storage as BigInt64Array;
    if (flat instanceof BigInt64Array) s.set(flat);
    else for (let i = 0; i < flat.length; i++) s[i] = BigInt(Math.trunc((flat as ArrayLike<number>)[i]!));
  } else if (flat instanceof BigInt64Array) {
    for (let i = 0; i < flat.length; i++) (storage as Float64Array)[i] = Number(flat[i]!);
  } else {
    (storage as Float64Array).set(flat as ArrayLike<number>);
  }
  return new Tensor(storage, dtype, shape);
}

export function full(shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
  const t = new Tensor(alloc(dtype, shape), dtype, shape);
  if (value !== 0) {
    if (dtype === 'int64') (t.storage as BigInt64Array).fill(BigInt(value));
    else (t.storage as Float32Array).fill(value);
  }
  return t;
}

export const zeros = (shape: Shape, dtype: DType = 'float32'): Tensor => full(shape, 0, dtype);
export const ones = (shape: Shape, dtype: DType = 'float32'): Tensor => full(shape, 1, dtype);
export const zerosLike = (t: Tensor): Tensor => full(t.shape, 0, t.dtype);
export const onesLike = (t: Tensor): Tensor => full(t.shape, 1, t.dtype);
export const scalar = (v: number, dtype: DType = 'float32'): Tensor => full([], v, dtype);

export function arange(start: number, end?: number, step = 1, dtype: DType = 'float32'): Tensor {
  if (end === undefined) { end = start; start = 0; }
  const n = Math.max(0, Math.ceil((end - start) / step));
  const vals = Array.from({ length: n }, (_, i) => start + i * step);
  return tensor(vals, { shape: [n], dtype });
}

/** A seeded PRNG (xoshiro128**) with normal samples by Box-Muller. */
export class Rng {
  private s: Uint32Array;
  private spare: number | null = null;

  constructor(seed: number) {
    // splitmix32 to fill the state
    this.s = new Uint32Array(4);
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!; s[3]! ^= s[1]!; s[1]! ^= s[2]!; s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  normal(): number {
    if (this.spare !== null) { const v = this.spare; this.spare = null; return v; }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

let globalRng = new Rng(0);
export function manualSeed(seed: number): void {
  globalRng = new Rng(seed);
}
export function defaultRng(): Rng {
  return globalRng;
}

export function randn(shape: Shape, opts: { dtype?: DType; rng?: Rng; std?: number; mean?: number } = {}): Tensor {
  const dtype = opts.dtype ?? 'float32', rng = opts.rng ?? globalRng, std = opts.std ?? 1, mean = opts.mean ?? 0;
  const t = new Tensor(allocOut(dtype, shape), dtype, shape);
  const s = t.storage as Float32Array;
  for (let i = 0; i < s.length; i++) s[i] = mean + std * rng.normal();
  return t;
}

export function rand(shape: Shape, opts: { dtype?: DType; rng?: Rng; low?: number; high?: number } = {}): Tensor {
  const dtype = opts.dtype ?? 'float32', rng = opts.rng ?? globalRng, lo = opts.low ?? 0, hi = opts.high ?? 1;
  const t = new Tensor(allocOut(dtype, shape), dtype, shape);
  const s = t.storage as Float32Array;
  for (let i = 0; i < s.length; i++) s[i] = lo + (hi - lo) * rng.next();
  return t;
}

export function randint(low: number, high: number, shape: Shape, opts: { dtype?: DType; rng?: Rng } = {}): Tensor {
  const dtype = opts.dtype ?? 'int32', rng = opts.rng ?? globalRng;
  const vals = Array.from({ length: numel(shape) }, () => low + rng.int(high - low));
  return tensor(vals, { shape, dtype });
}

export { allocStorage };
