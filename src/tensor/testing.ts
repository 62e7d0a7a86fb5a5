// Test helpers for the tensor engine: finite-difference gradient checks in float64, closeness assertions
// that name the worst element, seeded random inputs in chosen memory layouts (contiguous, transposed, sliced
// with a step, expanded with stride 0) so ops are proven on views, and plain element readers that do not go
// through the engine's ops (tests build their expected values with them).
//
//   const x = randomTensor([2, 3], { layout: 'transposed', seed: 1 }).requireGrad();
//   gradcheck((a) => a.tanh(), [x]);   // throws naming the input, index and values of the worst element

import { noGrad } from './autograd.ts';
import { Rng } from './ops/creation.ts';
import { contiguousStrides, numel, shapeStr, type Shape } from './shape.ts';
import { Tensor } from './tensor.ts';

export type Layout = 'contiguous' | 'offset' | 'transposed' | 'strided' | 'expanded';

/** Every multi-index of `shape` in row-major order. */
export function indices(shape: Shape): number[][] {
  const out: number[][] = [];
  const n = numel(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    out.push([...idx]);
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]!++;
      if (idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** Storage position of a multi-index. */
export function position(t: Tensor, idx: readonly number[]): number {
  let p = t.offset;
  idx.forEach((c, d) => { p += c * t.strides[d]!; });
  return p;
}

/** The element at a multi-index, read straight from storage (int64 and bool as numbers). */
export function at(t: Tensor, idx: readonly number[]): number {
  if (idx.length !== t.ndim) throw new Error(`at(): index [${idx.join(', ')}] for ${t.toString()}`);
  const v = t.storage[position(t, idx)]!;
  return typeof v === 'bigint' ? Number(v) : v;
}

/** The element of t read at an index of a broadcast shape (aligned at the right; size-1 dims repeat). */
export function atBroadcast(t: Tensor, idx: readonly number[]): number {
  const lead = idx.length - t.ndim;
  return at(t, t.shape.map((d, i) => (d === 1 ? 0 : idx[lead + i]!)));
}

/** A Float64Array of `shape` whose element at each multi-index is f(index). */
export function build(shape: Shape, f: (idx: number[]) => number): Float64Array {
  return Float64Array.from(indices(shape), f);
}

export interface RandomOptions {
  seed?: number;
  rng?: Rng;
  layout?: Layout;
  /** Uniform in [low, high) instead of standard normal. */
  low?: number;
  high?: number;
}

/**
 * A float64 tensor of `shape` whose storage is laid out as asked: 'offset' is contiguous but starts 3 elements
 * into a longer buffer (a slice along the first dim), 'transposed' swaps the last two dims'
 * strides, 'strided' reads every other element of a larger buffer from offset 1 (a slice with step 2),
 * 'expanded' repeats the first dim of size > 1 with stride 0. The result is a leaf, so it can require grad.
 */
export function randomTensor(shape: Shape, opts: RandomOptions = {}): Tensor {
  const rng = opts.rng ?? new Rng(opts.seed ?? 0);
  const sample = () => (opts.low !== undefined ? opts.low + ((opts.high ?? opts.low + 1) - opts.low) * rng.next() : rng.normal());
  const layout = opts.layout ?? 'contiguous';
  const fill = (n: number) => Float64Array.from({ length: n }, sample);
  const nd = shape.length;
  if (layout === 'contiguous' || nd === 0) return new Tensor(fill(numel(shape)), 'float64', shape);
  if (layout === 'offset') return new Tensor(fill(numel(shape) + 5), 'float64', shape, contiguousStrides(shape), 3);
  if (layout === 'transposed') {
    if (nd < 2) return randomTensor(shape, { ...opts, rng, layout: 'strided' });
    const stored = [...shape];
    [stored[nd - 2], stored[nd - 1]] = [shape[nd - 1]!, shape[nd - 2]!];
    const strides = contiguousStrides(stored);
    [strides[nd - 2], strides[nd - 1]] = [strides[nd - 1]!, strides[nd - 2]!];
    return new Tensor(fill(numel(stored)), 'float64', shape, strides);
  }
  if (layout === 'strided') {
    const stored = [...shape];
    stored[nd - 1] = 2 * shape[nd - 1]! + 1;
    const strides = contiguousStrides(stored);
    strides[nd - 1] = 2;
    return new Tensor(fill(numel(stored)), 'float64', shape, strides, 1);
  }
  const d = shape.findIndex((s) => s > 1);
  if (d < 0) return randomTensor(shape, { ...opts, rng, layout: 'strided' });
  const stored = shape.map((s, i) => (i === d ? 1 : s));
  const strides = contiguousStrides(stored);
  strides[d] = 0;
  return new Tensor(fill(numel(stored)), 'float64', shape, strides);
}

/** Random integer ids in [low, high) as an int32 tensor. */
export function randomIds(shape: Shape, low: number, high: number, seed = 0): Tensor {
  const rng = new Rng(seed);
  return new Tensor(Int32Array.from({ length: numel(shape) }, () => low + rng.int(high - low)), 'int32', shape);
}

export interface CloseOptions {
  atol?: number;
  rtol?: number;
}

/** Throws unless |actual - expected| <= atol + rtol·|expected| everywhere (NaN matches NaN, inf matches itself). */
export function assertClose(actual: Tensor | ArrayLike<number>, expected: Tensor | ArrayLike<number>, opts: CloseOptions = {},
  what = 'values'): void {
  const atol = opts.atol ?? 1e-9, rtol = opts.rtol ?? 1e-7;
  const a = actual instanceof Tensor ? actual.toFloat64() : actual;
  const e = expected instanceof Tensor ? expected.toFloat64() : expected;
  if (actual instanceof Tensor && expected instanceof Tensor && shapeStr(actual.shape) !== shapeStr(expected.shape)) {
    throw new Error(`${what}: shape ${shapeStr(actual.shape)} != expected ${shapeStr(expected.shape)}`);
  }
  if (a.length !== e.length) throw new Error(`${what}: ${a.length} values, expected ${e.length}`);
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = e[i]!;
    if (Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y))) continue;
    const excess = Math.abs(x - y) - (atol + rtol * Math.abs(y));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) { worst = i; worstExcess = excess; }
  }
  if (worst >= 0) {
    throw new Error(`${what}: element ${worst} is ${a[worst]}, expected ${e[worst]} (|diff| ${Math.abs(a[worst]! - e[worst]!)}, atol ${atol}, rtol ${rtol})`);
  }
}

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Seed of the random weighting r in sum(out · r). */
  seed?: number;
}

export interface GradcheckReport {
  /** The largest |analytic − numeric| over all checked elements. */
  maxAbsDiff: number;
  checked: number;
}

/** sum(out · r) as a plain number, read without the engine's ops. */
function weighted(out: Tensor, r: Float64Array): number {
  let s = 0;
  indices(out.shape).forEach((idx, i) => { s += at(out, idx) * r[i]!; });
  return s;
}

/**
 * Compares the autograd gradient of sum(fn(...inputs) · r) with central finite differences, for every input
 * that requires grad (they must be float64 leaves). Differences are taken per storage element, so a view
 * whose elements share storage (expanded) is checked against the sum of its elements' gradients.
 * Throws naming the input, index, analytic and numeric values of the worst element.
 */
export function gradcheck(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): GradcheckReport {
  const eps = opts.eps ?? 1e-6, atol = opts.atol ?? 1e-6, rtol = opts.rtol ?? 1e-5;
  const checkedInputs = inputs.filter((t) => t.requiresGrad);
  if (checkedInputs.length === 0) throw new Error('gradcheck: no input requires grad');
  for (const t of checkedInputs) {
    if (t.dtype !== 'float64') throw new Error(`gradcheck: inputs must be float64, got ${t.toString()}`);
    if (t.gradFn) throw new Error(`gradcheck: inputs must be leaves, got ${t.toString()} made by ${t.gradFn.name}`);
    t.grad = null;
  }
  const out = fn(...inputs);
  const rng = new Rng(opts.seed ?? 1234);
  const r = Float64Array.from({ length: out.size }, () => rng.normal());
  out.mul(new Tensor(r, 'float64', out.shape)).sum().backward();
  let maxAbsDiff = 0, checked = 0;
  let worst: { msg: string; excess: number } | null = null;
  for (const [k, t] of inputs.entries()) {
    if (!t.requiresGrad) continue;
    if (t.grad && shapeStr(t.grad.shape) !== shapeStr(t.shape)) {
      throw new Error(`gradcheck: input ${k} ${shapeStr(t.shape)} got a gradient of shape ${shapeStr(t.grad.shape)}`);
    }
    const analytic = new Map<number, { value: number; idx: number[] }>();
    for (const idx of indices(t.shape)) {
      const p = position(t, idx);
      const g = t.grad ? at(t.grad, idx) : 0;
      const cur = analytic.get(p);
      if (cur) cur.value += g;
      else analytic.set(p, { value: g, idx });
    }
    const data = t.storage as Float64Array;
    for (const [p, { value, idx }] of analytic) {
      const v = data[p]!;
      data[p] = v + eps;
      const fPlus = noGrad(() => weighted(fn(...inputs), r));
      data[p] = v - eps;
      const fMinus = noGrad(() => weighted(fn(...inputs), r));
      data[p] = v;
      const numeric = (fPlus - fMinus) / (2 * eps);
      const diff = Math.abs(value - numeric);
      checked++;
      if (diff > maxAbsDiff || Number.isNaN(diff)) maxAbsDiff = Number.isNaN(diff) ? NaN : Math.max(maxAbsDiff, diff);
      const excess = Number.isNaN(diff) ? Infinity : diff - (atol + rtol * Math.abs(numeric));
      if (excess > 0 && (!worst || excess > worst.excess)) {
        worst = { excess, msg: `input ${k} ${shapeStr(t.shape)} at [${idx.join(', ')}]: analytic ${value}, numeric ${numeric} (|diff| ${diff})` };
      }
    }
  }
  if (worst) throw new Error(`gradcheck failed: ${worst.msg}; atol ${atol}, rtol ${rtol}`);
  return { maxAbsDiff, checked };
}

// ---- Independent reference loops for the fused ops (the definitions tests compare against) ----

/** erf by Simpson's rule on 2/√π·exp(−t²) (4000 intervals: ~1e-14), independent of the engine's series. */
export function erfRef(x: number): number {
  const n = 4000, h = x / n;
  let s = 1 + Math.exp(-x * x);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return (2 / Math.sqrt(Math.PI)) * (h / 3) * s;
}

/** LayerNorm or RMSNorm of x's last dim at one index. */
export function normRef(kind: 'layer' | 'rms', x: Tensor, idx: number[], w: Tensor | null, b: Tensor | null, eps: number): number {
  const C = x.shape[x.ndim - 1]!, j = idx[idx.length - 1]!;
  const row = Array.from({ length: C }, (_, c) => at(x, [...idx.slice(0, -1), c]));
  const mu = kind === 'layer' ? row.reduce((p, v) => p + v, 0) / C : 0;
  const ms = row.reduce((p, v) => p + (v - mu) ** 2, 0) / C;
  const y = (row[j]! - mu) / Math.sqrt(ms + eps);
  return y * (w ? at(w, [j]) : 1) + (b ? at(b, [j]) : 0);
}

/** softmax(q·kᵀ·scale + mask)·v with explicit loops; bool mask false or causal → −inf; an all-masked row is 0. */
export function attentionRef(q: Tensor, k: Tensor, v: Tensor, o: { causal: boolean; mask: Tensor | null; scale: number }): { shape: number[]; values: Float64Array } {
  const [B, H, Tq, D] = q.shape as [number, number, number, number];
  const Hkv = k.shape[1]!, Tk = k.shape[2]!;
  const out = new Float64Array(B * H * Tq * D);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < Tq; i++) {
    const kh = Math.floor((h * Hkv) / H);
    const s = Array.from({ length: Tk }, (_, j) => {
      if (o.causal && j > Tk - Tq + i) return -Infinity;
      let dot = 0;
      for (let d = 0; d < D; d++) dot += at(q, [b, h, i, d]) * at(k, [b, kh, j, d]);
      if (!o.mask) return dot * o.scale;
      const m = atBroadcast(o.mask, [b, h, i, j]);
      return o.mask.dtype === 'bool' ? (m ? dot * o.scale : -Infinity) : dot * o.scale + m;
    });
    const mx = Math.max(...s);
    if (mx === -Infinity) continue;
    const p = s.map((x) => Math.exp(x - mx));
    const z = p.reduce((a, x) => a + x, 0);
    for (let d = 0; d < D; d++) {
      let acc = 0;
      for (let j = 0; j < Tk; j++) acc += (p[j]! / z) * at(v, [b, kh, j, d]);
      out[((b * H + h) * Tq + i) * D + d] = acc;
    }
  }
  return { shape: [B, H, Tq, D], values: out };
}

const ropeAngle = (t: number, i: number, D: number) => t * 10000 ** ((-2 * i) / D);

/** cos/sin tables for positions 0..T-1: [T, D] (each angle twice, as HF's cat(freqs, freqs)) or [T, D/2] interleaved. */
export function ropeTables(T: number, D: number, interleaved: boolean): { cos: Tensor; sin: Tensor } {
  const width = interleaved ? D / 2 : D;
  const make = (f: (a: number) => number) =>
    new Tensor(build([T, width], ([t, j]) => f(ropeAngle(t!, j! % (D / 2), D))), 'float64', [T, width]);
  return { cos: make(Math.cos), sin: make(Math.sin) };
}

/** One element of rope(x): rotate-half pairs (j, j + D/2), interleaved pairs (2i, 2i + 1); x is [..., T, D]. */
export function ropeRef(x: Tensor, idx: number[], interleaved: boolean): number {
  const D = x.shape[x.ndim - 1]!, t = idx[idx.length - 2]!, j = idx[idx.length - 1]!;
  const get = (c: number) => at(x, [...idx.slice(0, -1), c]);
  if (interleaved) {
    const i = j >> 1, a = ropeAngle(t, i, D), x0 = get(2 * i), x1 = get(2 * i + 1);
    return j % 2 === 0 ? x0 * Math.cos(a) - x1 * Math.sin(a) : x1 * Math.cos(a) + x0 * Math.sin(a);
  }
  const half = D / 2, i = j % half, a = ropeAngle(t, i, D);
  return j < half ? get(j) * Math.cos(a) - get(j + half) * Math.sin(a) : get(j) * Math.cos(a) + get(j - half) * Math.sin(a);
}

/** Direct convolution loops: x [B, C, L] with w [O, C, K], or x [B, C, H, W] with w [O, C, Kh, Kw]; zero padding. */
export function convRef(x: Tensor, w: Tensor, b: Tensor | null, stride: number, pad: number): { shape: number[]; values: Float64Array } {
  const one = x.ndim === 3;
  const [B, C] = x.shape as [number, number];
  const Hin = one ? 1 : x.shape[2]!, Win = x.shape[x.ndim - 1]!;
  const O = w.shape[0]!, Kh = one ? 1 : w.shape[2]!, Kw = w.shape[w.ndim - 1]!;
  const ph = one ? 0 : pad, sh = one ? 1 : stride;
  const Ho = Math.floor((Hin + 2 * ph - Kh) / sh) + 1, Wo = Math.floor((Win + 2 * pad - Kw) / stride) + 1;
  const xv = (bb: number, c: number, i: number, j: number) => (i < 0 || j < 0 || i >= Hin || j >= Win ? 0 : at(x, one ? [bb, c, j] : [bb, c, i, j]));
  const shape = one ? [B, O, Wo] : [B, O, Ho, Wo];
  const values = build([B, O, Ho, Wo], ([bb, o, y, z]) => {
    let s = b ? at(b, [o!]) : 0;
    for (let c = 0; c < C; c++) for (let i = 0; i < Kh; i++) for (let j = 0; j < Kw; j++) {
      s += xv(bb!, c, y! * sh - ph + i, z! * stride - pad + j) * at(w, one ? [o!, c, j] : [o!, c, i, j]);
    }
    return s;
  });
  return { shape, values };
}

/** Cross-entropy with ignore_index −100: per row logsumexp − logit[target]; 'mean' over non-ignored rows (NaN if none). */
export function crossEntropyRef(logits: Tensor, targets: Tensor, reduction: 'mean' | 'sum' | 'none'): { shape: number[]; values: Float64Array } {
  const V = logits.shape[logits.ndim - 1]!;
  const rows = indices(logits.shape.slice(0, -1));
  const losses = rows.map((r) => {
    const t = at(targets, r);
    if (t === -100) return 0;
    const row = Array.from({ length: V }, (_, j) => at(logits, [...r, j]));
    const m = Math.max(...row);
    return m + Math.log(row.reduce((p, v) => p + Math.exp(v - m), 0)) - row[t]!;
  });
  if (reduction === 'none') return { shape: [...targets.shape], values: Float64Array.from(losses) };
  const total = losses.reduce((p, v) => p + v, 0);
  const count = rows.filter((r) => at(targets, r) !== -100).length;
  return { shape: [], values: Float64Array.from([reduction === 'sum' ? total : total / count]) };
}
