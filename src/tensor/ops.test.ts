// The op list of the engine as a test table (issue 2, "Proof"). Each entry names one required op and lists
// cases: random float64 inputs in several shapes and layouts (broadcasting, size-1 dims, transposed,
// sliced-with-step and expanded views), an independent forward computation written as plain loops over
// `at()` (never the engine's ops), and a finite-difference gradcheck of every input that requires grad.
// The first test fails when a required op has no entry. The fused ops' reference loops live in ./testing.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Tensor } from './index.ts';
import * as T from './index.ts';
import { at, atBroadcast, build, gradcheck, indices, randomIds, randomTensor, assertClose, type GradcheckOptions, type Layout } from './testing.ts';
import { attentionRef, convRef, crossEntropyRef, erfRef, normRef, ropeRef, ropeTables } from './testing.ts';

const REQUIRED = [
  'matmul', 'batched matmul', 'add', 'sub', 'mul', 'div', 'neg', 'exp', 'log', 'sqrt', 'rsqrt', 'pow', 'abs', 'tanh',
  'sigmoid', 'relu', 'silu', 'gelu (erf)', 'gelu (tanh)', 'quick_gelu', 'softmax', 'log_softmax', 'sum', 'mean', 'max',
  'layer_norm', 'rms_norm', 'embedding', 'gather', 'index_select', 'concat', 'split', 'pad', 'where', 'masked_fill',
  'scaled_dot_product_attention', 'rotary (rotate-half)', 'rotary (interleaved)', 'conv1d', 'conv2d', 'avg_pool1d',
  'cross_entropy', 'bce_with_logits', 'dropout', 'reshape', 'permute', 'transpose', 'slice', 'expand', 'squeeze', 'unsqueeze',
  'contiguous', 'cast',
] as const;

interface Expected { shape: readonly number[]; values: Float64Array }
interface Case {
  label: string;
  inputs: () => Tensor[];
  fn: (...xs: Tensor[]) => Tensor;
  expect?: (...xs: Tensor[]) => Expected;
  /** false: forward only (the op is not differentiable there). */
  grad?: false;
  tol?: GradcheckOptions;
}
interface Entry { name: (typeof REQUIRED)[number]; cases: Case[] }

let seed = 1;
/** A random float64 leaf that requires grad. */
const R = (shape: number[], layout: Layout = 'contiguous', range?: [number, number]): Tensor =>
  randomTensor(shape, { seed: seed++, layout, ...(range ? { low: range[0], high: range[1] } : {}) }).requireGrad();
const ex = (shape: readonly number[], f: (idx: number[]) => number): Expected => ({ shape, values: build(shape, f) });
const bool = (shape: number[]): Tensor => T.tensor(randomIds(shape, 0, 2, seed++).toList(), { shape, dtype: 'bool' });

// ---- elementwise ----
const LAYOUTS: [string, number[], Layout][] = [
  ['[3, 4]', [3, 4], 'contiguous'], ['[2, 3, 4] transposed', [2, 3, 4], 'transposed'], ['[5] strided', [5], 'strided'],
  ['[1, 3, 1]', [1, 3, 1], 'contiguous'], ['[3, 4] expanded', [3, 4], 'expanded'], ['[2, 3] at an offset', [2, 3], 'offset'],
];
const sigmoidRef = (v: number) => 1 / (1 + Math.exp(-v));

function unary(name: Entry['name'], f: (x: Tensor) => Tensor, ref: (v: number) => number, range?: [number, number]): Entry {
  return { name, cases: LAYOUTS.map(([label, shape, layout]) => ({
    label, inputs: () => [R(shape, layout, range)], fn: f, expect: (x: Tensor) => ex(shape, (i) => ref(at(x, i))),
  })) };
}

function binary(name: Entry['name'], f: (a: T.TensorLike, b: T.TensorLike) => Tensor, ref: (a: number, b: number) => number,
  aRange?: [number, number], bRange?: [number, number]): Entry {
  const pair = (label: string, sa: number[], la: Layout, sb: number[], lb: Layout, out: number[]): Case => ({
    label, inputs: () => [R(sa, la, aRange), R(sb, lb, bRange)], fn: (a, b) => f(a!, b!),
    expect: (a, b) => ex(out, (i) => ref(atBroadcast(a!, i), atBroadcast(b!, i))),
  });
  return { name, cases: [
    pair('[3, 4] and [3, 4]', [3, 4], 'contiguous', [3, 4], 'contiguous', [3, 4]),
    pair('[2, 3, 4] and [4]', [2, 3, 4], 'contiguous', [4], 'strided', [2, 3, 4]),
    pair('[2, 1, 4] and [3, 1]', [2, 1, 4], 'contiguous', [3, 1], 'contiguous', [2, 3, 4]),
    pair('[3, 4] transposed and [1, 4] strided', [3, 4], 'transposed', [1, 4], 'strided', [3, 4]),
    pair('[3, 4] expanded and [3, 4] transposed', [3, 4], 'expanded', [3, 4], 'transposed', [3, 4]),
    { label: 'tensor and number', inputs: () => [R([2, 3], 'strided', aRange)], fn: (a) => f(a!, 1.5), expect: (a) => ex([2, 3], (i) => ref(at(a!, i), 1.5)) },
    { label: 'number and tensor', inputs: () => [R([2, 3], 'transposed', bRange)], fn: (b) => f(1.5, b!), expect: (b) => ex([2, 3], (i) => ref(1.5, at(b!, i))) },
  ] };
}

// ---- reductions and softmax ----
function reduceRef(x: Tensor, axesIn: number[], keep: boolean, init: number, acc: (a: number, v: number) => number,
  fin: (a: number, n: number) => number = (a) => a): Expected {
  const axes = axesIn.map((a) => (a < 0 ? a + x.ndim : a));
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const shape = keep ? kept : x.shape.filter((_, i) => !axes.includes(i));
  const vals = new Float64Array(kept.reduce((p, d) => p * d, 1)).fill(init);
  const ks = kept.map((_, i) => kept.slice(i + 1).reduce((p, d) => p * d, 1));
  for (const idx of indices(x.shape)) {
    const o = idx.reduce((p, c, d) => p + (axes.includes(d) ? 0 : c * ks[d]!), 0);
    vals[o] = acc(vals[o]!, at(x, idx));
  }
  const n = axes.reduce((p, a) => p * x.shape[a]!, 1);
  return { shape, values: vals.map((v) => fin(v, n)) };
}

function reduction(name: 'sum' | 'mean' | 'max', f: typeof T.sum, init: number, acc: (a: number, v: number) => number,
  fin?: (a: number, n: number) => number): Entry {
  const c = (label: string, shape: number[], layout: Layout, axes: number[] | undefined, keep: boolean): Case => ({
    label, inputs: () => [R(shape, layout)], fn: (x) => f(x!, axes, keep),
    expect: (x) => reduceRef(x!, axes ?? [...x!.shape.keys()], keep, init, acc, fin),
  });
  return { name, cases: [
    c('all of [3, 4]', [3, 4], 'contiguous', undefined, false),
    c('axis 1 of [2, 3, 4] transposed', [2, 3, 4], 'transposed', [1], false),
    c('axes [0, 2] keepDim, strided', [2, 3, 4], 'strided', [0, 2], true),
    c('axis 0 of [1, 5]', [1, 5], 'contiguous', [0], false),
    c('axis 1 of expanded [3, 4]', [3, 4], 'expanded', [1], true),
    c('axis -1 of [2, 3] at an offset', [2, 3], 'offset', [-1], false),
  ] };
}

function softmaxRef(x: Tensor, axis: number, log: boolean): Expected {
  return ex(x.shape, (idx) => {
    const row = Array.from({ length: x.shape[axis]! }, (_, j) => at(x, idx.map((c, d) => (d === axis ? j : c))));
    const m = Math.max(...row), lse = m + Math.log(row.reduce((p, v) => p + Math.exp(v - m), 0));
    return log ? at(x, idx) - lse : Math.exp(at(x, idx) - lse);
  });
}
const softmaxEntry = (name: 'softmax' | 'log_softmax', f: typeof T.softmax, log: boolean): Entry => ({ name, cases: [
  ...([[-1, 'contiguous'], [0, 'transposed'], [1, 'strided'], [2, 'expanded'], [-1, 'offset']] as const).map(([axis, layout]): Case => ({
    label: `axis ${axis} of [2, 3, 4] ${layout}`, inputs: () => [R([2, 3, 4], layout)], fn: (x) => f(x!, axis),
    expect: (x) => softmaxRef(x!, axis < 0 ? axis + 3 : axis, log),
  })),
  { label: 'axis 0 of [1, 3]', inputs: () => [R([1, 3])], fn: (x) => f(x!, 0), expect: (x) => softmaxRef(x!, 0, log) },
] });

// ---- matmul ----
function matmulRef(a: Tensor, b: Tensor): Expected {
  const M = a.ndim === 1 ? 1 : a.shape[a.ndim - 2]!, K = a.shape[a.ndim - 1]!, N = b.ndim === 1 ? 1 : b.shape[b.ndim - 1]!;
  const ab = a.shape.slice(0, -2), bb = b.shape.slice(0, -2), nb = Math.max(ab.length, bb.length);
  const batch = Array.from({ length: nb }, (_, i) => Math.max(ab[ab.length - nb + i] ?? 1, bb[bb.length - nb + i] ?? 1));
  const align = (bi: number[], s: readonly number[]) => s.map((d, j) => (d === 1 ? 0 : bi[bi.length - s.length + j]!));
  const ga = (bi: number[], i: number, k: number) => (a.ndim === 1 ? at(a, [k]) : at(a, [...align(bi, ab), i, k]));
  const gb = (bi: number[], k: number, j: number) => (b.ndim === 1 ? at(b, [k]) : at(b, [...align(bi, bb), k, j]));
  const vals: number[] = [];
  for (const bi of indices(batch)) for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += ga(bi, i, k) * gb(bi, k, j);
    vals.push(s);
  }
  return { shape: [...batch, ...(a.ndim === 1 ? [] : [M]), ...(b.ndim === 1 ? [] : [N])], values: Float64Array.from(vals) };
}
const mm = (label: string, sa: number[], la: Layout, sb: number[], lb: Layout, ta = false, tb = false): Case => ({
  label, inputs: () => [R(sa, la), R(sb, lb)],
  fn: (a, b) => T.matmul(ta ? a!.T : a!, tb ? b!.T : b!),
  expect: (a, b) => matmulRef(ta ? a!.T : a!, tb ? b!.T : b!),
});

// ---- norms, attention, rope, conv, loss ----
const normCase = (kind: 'layer' | 'rms', label: string, shape: number[], layout: Layout, affine: boolean): Case => {
  const C = shape[shape.length - 1]!;
  return {
    label, inputs: () => [R(shape, layout), ...(affine ? [R([C]), ...(kind === 'layer' ? [R([C])] : [])] : [])],
    fn: (x, w, b) => (kind === 'layer' ? T.layerNorm(x!, w ?? null, b ?? null, 1e-5) : T.rmsNorm(x!, w ?? null, 1e-6)),
    expect: (x, w, b) => ex(x!.shape, (i) => normRef(kind, x!, i, w ?? null, b ?? null, kind === 'layer' ? 1e-5 : 1e-6)),
  };
};

interface AttnSpec { B: number; H: number; Hkv: number; Tq: number; Tk: number; D: number; causal?: boolean; mask?: 'bool' | 'float' }
const attnCase = (label: string, s: AttnSpec, layout: Layout = 'contiguous'): Case => {
  let mask: Tensor | null = null;
  return {
    label,
    inputs: () => {
      if (s.mask === 'bool') mask = T.tensor(build([s.B, 1, 1, s.Tk], ([b, , , j]) => (j! < s.Tk - b! ? 1 : 0)), { shape: [s.B, 1, 1, s.Tk], dtype: 'bool' });
      if (s.mask === 'float') mask = randomTensor([1, s.H, s.Tq, s.Tk], { seed: seed++ });
      return [R([s.B, s.H, s.Tq, s.D], layout), R([s.B, s.Hkv, s.Tk, s.D], layout), R([s.B, s.Hkv, s.Tk, s.D])];
    },
    fn: (q, k, v) => T.scaledDotProductAttention(q!, k!, v!, { causal: s.causal ?? false, mask }),
    expect: (q, k, v) => attentionRef(q!, k!, v!, { causal: s.causal ?? false, mask, scale: 1 / Math.sqrt(s.D) }),
  };
};

const ropeCase = (label: string, shape: number[], interleaved: boolean, layout: Layout): Case => {
  const [T_, D] = shape.slice(-2) as [number, number];
  const { cos, sin } = ropeTables(T_, D, interleaved);
  return {
    label, inputs: () => [R(shape, layout)], fn: (x) => T.applyRope(x!, cos, sin, interleaved),
    expect: (x) => ex(x!.shape, (i) => ropeRef(x!, i, interleaved)),
  };
};

const convCase = (dims: 1 | 2, label: string, x: number[], w: number[], stride: number, padding: number, bias: boolean, layout: Layout = 'contiguous'): Case => ({
  label, inputs: () => [R(x, layout), R(w), ...(bias ? [R([w[0]!])] : [])],
  fn: (xi, wi, bi) => (dims === 1 ? T.conv1d(xi!, wi!, bi ?? null, { stride, padding }) : T.conv2d(xi!, wi!, bi ?? null, { stride, padding })),
  expect: (xi, wi, bi) => convRef(xi!, wi!, bi ?? null, stride, padding),
});

const poolCase = (label: string, shape: number[], k: number, s: number, layout: Layout): Case => ({
  label, inputs: () => [R(shape, layout)], fn: (x) => T.avgPool1d(x!, k, s),
  expect: (x) => ex([shape[0]!, shape[1]!, Math.floor((shape[2]! - k) / s) + 1], ([b, c, o]) => {
    let sum = 0;
    for (let j = 0; j < k; j++) sum += at(x!, [b!, c!, o! * s + j]);
    return sum / k;
  }),
});

const ceCase = (label: string, shape: number[], targets: number[], reduction: 'mean' | 'sum' | 'none', layout: Layout = 'contiguous'): Case => {
  const t = T.tensor(targets, { shape: shape.slice(0, -1), dtype: 'int32' });
  return {
    label, inputs: () => [R(shape, layout)], fn: (x) => T.crossEntropy(x!, t, { reduction }),
    expect: (x) => crossEntropyRef(x!, t, reduction),
  };
};

const bceCase = (label: string, shape: number[], layout: Layout, target: (i: number) => number, scale = 1): Case => {
  const y = T.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => target(i)), { shape, dtype: 'float64' });
  return {
    label, inputs: () => { const x = R(shape, layout); return [scale === 1 ? x : T.noGrad(() => x.mul(scale)).requireGrad()]; },
    fn: (x) => T.bceWithLogitsSum(x!, y),
    // the definition: −[y·log σ(z) + (1 − y)·log(1 − σ(z))], with log σ(z) = −log(1 + e^−z) written for large |z|
    expect: (x) => {
      let sum = 0;
      const logSig = (v: number) => (v >= 0 ? -Math.log1p(Math.exp(-v)) : v - Math.log1p(Math.exp(v)));
      for (const idx of indices(shape)) { const z = at(x!, idx), t = at(y, idx); sum -= t * logSig(z) + (1 - t) * logSig(-z); }
      return { shape: [], values: Float64Array.from([sum]) };
    },
  };
};

// ---- the table ----
const TABLE: Entry[] = [
  { name: 'matmul', cases: [
    mm('[3, 4] x [4, 5]', [3, 4], 'contiguous', [4, 5], 'contiguous'),
    mm('transposed a and b (aᵀ·bᵀ)', [4, 3], 'strided', [5, 4], 'transposed', true, true),
    mm('vector x matrix', [4], 'strided', [4, 3], 'contiguous'),
    mm('matrix x vector', [3, 4], 'transposed', [4], 'contiguous'),
    mm('[1, 4] x [4, 1]', [1, 4], 'contiguous', [4, 1], 'expanded'),
  ] },
  { name: 'batched matmul', cases: [
    mm('[2, 3, 4] x [2, 4, 5]', [2, 3, 4], 'contiguous', [2, 4, 5], 'transposed'),
    mm('broadcast batch [2, 1, 3, 4] x [3, 4, 2]', [2, 1, 3, 4], 'strided', [3, 4, 2], 'contiguous'),
    mm('[2, 3, 4] x [4, 2] (shared b)', [2, 3, 4], 'expanded', [4, 2], 'contiguous'),
    mm('aᵀ·b batched', [2, 4, 3], 'contiguous', [2, 4, 2], 'contiguous', true, false),
    mm('a·bᵀ batched', [2, 3, 4], 'contiguous', [2, 5, 4], 'strided', false, true),
  ] },
  binary('add', T.add, (a, b) => a + b),
  binary('sub', T.sub, (a, b) => a - b),
  binary('mul', T.mul, (a, b) => a * b),
  binary('div', T.div, (a, b) => a / b, [0.5, 2], [0.5, 2]),
  binary('pow', T.pow, Math.pow, [0.5, 2], [-1.5, 1.5]),
  unary('neg', T.neg, (v) => -v),
  unary('exp', T.exp, Math.exp),
  unary('log', T.log, Math.log, [0.3, 3]),
  unary('sqrt', T.sqrt, Math.sqrt, [0.3, 3]),
  unary('rsqrt', T.rsqrt, (v) => 1 / Math.sqrt(v), [0.3, 3]),
  unary('abs', T.abs, Math.abs),
  unary('tanh', T.tanh, Math.tanh),
  unary('sigmoid', T.sigmoid, sigmoidRef),
  unary('relu', T.relu, (v) => Math.max(v, 0)),
  unary('silu', T.silu, (v) => v * sigmoidRef(v)),
  unary('gelu (erf)', T.gelu, (v) => 0.5 * v * (1 + erfRef(v / Math.SQRT2))),
  unary('gelu (tanh)', T.geluTanh, (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))),
  unary('quick_gelu', T.quickGelu, (v) => v * sigmoidRef(1.702 * v)),
  softmaxEntry('softmax', T.softmax, false),
  softmaxEntry('log_softmax', T.logSoftmax, true),
  reduction('sum', T.sum, 0, (a, v) => a + v),
  reduction('mean', T.mean, 0, (a, v) => a + v, (a, n) => a / n),
  reduction('max', T.max, -Infinity, Math.max),
  { name: 'layer_norm', cases: [
    normCase('layer', '[3, 5] with weight and bias', [3, 5], 'contiguous', true),
    normCase('layer', '[2, 3, 4] transposed, no affine', [2, 3, 4], 'transposed', false),
    normCase('layer', '[1, 6] strided with affine', [1, 6], 'strided', true),
    normCase('layer', '[2, 4] at an offset with affine', [2, 4], 'offset', true),
  ] },
  { name: 'rms_norm', cases: [
    normCase('rms', '[3, 5] with weight', [3, 5], 'contiguous', true),
    normCase('rms', '[2, 3, 4] transposed, no weight', [2, 3, 4], 'transposed', false),
    normCase('rms', '[1, 6] strided with weight', [1, 6], 'strided', true),
    normCase('rms', '[2, 4] at an offset with weight', [2, 4], 'offset', true),
  ] },
  { name: 'embedding', cases: [
    { label: 'ids [2, 3] with repeats', inputs: () => [R([5, 3]), randomIds([2, 3], 0, 5, 3)], fn: (w, ids) => T.embedding(w!, ids!),
      expect: (w, ids) => ex([2, 3, 3], ([a, b, c]) => at(w!, [at(ids!, [a!, b!]), c!])) },
    { label: 'padding idx 0 not in ids, transposed weight', inputs: () => [R([4, 3], 'transposed'), T.tensor([1, 2, 3, 1], { dtype: 'int32' })],
      fn: (w, ids) => T.embedding(w!, ids!, 0), expect: (w, ids) => ex([4, 3], ([a, c]) => at(w!, [at(ids!, [a!]), c!])) },
    { label: 'int64 ids', inputs: () => [R([3, 2]), T.tensor([2, 0], { dtype: 'int64' })], fn: (w, ids) => T.embedding(w!, ids!),
      expect: (w) => ex([2, 2], ([a, c]) => at(w!, [[2, 0][a!]!, c!])) },
    { label: 'weight at an offset', inputs: () => [R([3, 2], 'offset'), T.tensor([1, 2], { dtype: 'int32' })], fn: (w, ids) => T.embedding(w!, ids!),
      expect: (w) => ex([2, 2], ([a, c]) => at(w!, [a! + 1, c!])) },
  ] },
  { name: 'gather', cases: [
    { label: 'axis 1 of [3, 4]', inputs: () => [R([3, 4], 'transposed'), randomIds([3, 2], 0, 4, 5)], fn: (x, i) => T.gather(x!, 1, i!),
      expect: (x, i) => ex([3, 2], ([r, c]) => at(x!, [r!, at(i!, [r!, c!])])) },
    { label: 'axis 0 of [3, 4] with repeats', inputs: () => [R([3, 4], 'strided'), randomIds([5, 4], 0, 3, 6)], fn: (x, i) => T.gather(x!, 0, i!),
      expect: (x, i) => ex([5, 4], ([r, c]) => at(x!, [at(i!, [r!, c!]), c!])) },
    { label: 'twice, concatenated (the second gradient arrives at an offset)', inputs: () => [R([2, 3]), randomIds([2, 2], 0, 3, 8)],
      fn: (x, i) => T.concat([T.gather(x!, 1, i!).mul(2), T.gather(x!, 1, i!)], 0),
      expect: (x, i) => ex([4, 2], ([r, c]) => (r! < 2 ? 2 : 1) * at(x!, [r! % 2, at(i!, [r! % 2, c!])])) },
  ] },
  { name: 'index_select', cases: [
    { label: 'axis 1 with repeats', inputs: () => [R([3, 4], 'transposed'), T.tensor([0, 2, 2, 1], { dtype: 'int32' })],
      fn: (x, i) => T.indexSelect(x!, 1, i!), expect: (x, i) => ex([3, 4], ([r, c]) => at(x!, [r!, at(i!, [c!])])) },
    { label: 'axis 0 of [4, 2, 3] expanded', inputs: () => [R([4, 2, 3], 'expanded'), T.tensor([3, 0], { dtype: 'int64' })],
      fn: (x, i) => T.indexSelect(x!, 0, i!), expect: (x, i) => ex([2, 2, 3], ([r, a, b]) => at(x!, [at(i!, [r!]), a!, b!])) },
  ] },
  { name: 'concat', cases: [
    { label: 'three views along axis 1', inputs: () => [R([2, 2]), R([2, 3], 'transposed'), R([2, 1], 'strided')],
      fn: (a, b, c) => T.concat([a!, b!, c!], 1),
      expect: (a, b, c) => ex([2, 6], ([r, j]) => (j! < 2 ? at(a!, [r!, j!]) : j! < 5 ? at(b!, [r!, j! - 2]) : at(c!, [r!, 0]))) },
    { label: 'axis 0 of [1, 3] and [2, 3] expanded', inputs: () => [R([1, 3]), R([2, 3], 'expanded')], fn: (a, b) => T.concat([a!, b!], 0),
      expect: (a, b) => ex([3, 3], ([r, j]) => (r === 0 ? at(a!, [0, j!]) : at(b!, [r! - 1, j!]))) },
    { label: 'gradient slices (at offsets) flow into fused ops', inputs: () => [R([2, 3]), R([2, 3]), R([1, 2, 3])],
      fn: (a, b, c) => T.concat([T.softmax(a!), T.rmsNorm(b!, null), T.avgPool1d(c!, 1).reshape([2, 3])], 0),
      expect: (a, b, c) => ex([6, 3], ([r, j]) => (r! < 2 ? softmaxRef(a!, 1, false).values[r! * 3 + j!]!
        : r! < 4 ? normRef('rms', b!, [r! - 2, j!], null, null, 1e-6) : at(c!, [0, r! - 4, j!]))) },
  ] },
  { name: 'split', cases: [
    { label: 'sizes [1, 3] along axis 1, second piece', inputs: () => [R([2, 4], 'transposed')], fn: (x) => T.split(x!, [1, 3], 1)[1]!,
      expect: (x) => ex([2, 3], ([r, j]) => at(x!, [r!, j! + 1])) },
    { label: 'equal pieces along axis 0, recombined reversed', inputs: () => [R([4, 3], 'strided')],
      fn: (x) => { const [p, q] = T.split(x!, 2, 0); return T.concat([q!, p!], 0); },
      expect: (x) => ex([4, 3], ([r, j]) => at(x!, [(r! + 2) % 4, j!])) },
  ] },
  { name: 'pad', cases: [
    { label: 'last dim [1, 2]', inputs: () => [R([2, 3], 'transposed')], fn: (x) => T.pad(x!, [1, 2]),
      expect: (x) => ex([2, 6], ([r, j]) => (j! >= 1 && j! < 4 ? at(x!, [r!, j! - 1]) : 0)) },
    { label: 'two dims with value 2.5', inputs: () => [R([2, 3, 2], 'strided')], fn: (x) => T.pad(x!, [0, 1, 2, 0], 2.5),
      expect: (x) => ex([2, 5, 3], ([a, r, j]) => (r! >= 2 && j! < 2 ? at(x!, [a!, r! - 2, j!]) : 2.5)) },
  ] },
  { name: 'where', cases: [
    { label: 'cond [3, 1], a [3, 4], b [4]', inputs: () => [bool([3, 1]), R([3, 4], 'transposed'), R([4], 'strided')],
      fn: (c, a, b) => T.where(c!, a!, b!), expect: (c, a, b) => ex([3, 4], (i) => (atBroadcast(c!, i) ? atBroadcast(a!, i) : atBroadcast(b!, i))) },
    { label: 'cond [2, 3], a [2, 3], number', inputs: () => [bool([2, 3]), R([2, 3], 'expanded')],
      fn: (c, a) => T.where(c!, a!, -1), expect: (c, a) => ex([2, 3], (i) => (at(c!, i) ? at(a!, i) : -1)) },
  ] },
  { name: 'masked_fill', cases: [
    { label: 'mask [3, 4] on a view', inputs: () => [R([3, 4], 'transposed'), bool([3, 4])], fn: (x, m) => T.maskedFill(x!, m!, 2.5),
      expect: (x, m) => ex([3, 4], (i) => (at(m!, i) ? 2.5 : at(x!, i))) },
    { label: 'mask [1, 4] broadcast over [2, 3, 4]', inputs: () => [R([2, 3, 4]), bool([1, 4])], fn: (x, m) => T.maskedFill(x!, m!, -7),
      expect: (x, m) => ex([2, 3, 4], (i) => (atBroadcast(m!, i) ? -7 : at(x!, i))) },
  ] },
  { name: 'scaled_dot_product_attention', cases: [
    attnCase('plain B2 H2 T3 D4', { B: 2, H: 2, Hkv: 2, Tq: 3, Tk: 3, D: 4 }),
    attnCase('causal on transposed views', { B: 1, H: 2, Hkv: 2, Tq: 4, Tk: 4, D: 3, causal: true }, 'transposed'),
    attnCase('causal with Tq < Tk (cached keys)', { B: 1, H: 1, Hkv: 1, Tq: 2, Tk: 4, D: 3, causal: true }),
    attnCase('bool padding mask [B, 1, 1, Tk]', { B: 2, H: 2, Hkv: 2, Tq: 3, Tk: 4, D: 2, mask: 'bool' }),
    attnCase('grouped KV heads H4 Hkv2, causal', { B: 1, H: 4, Hkv: 2, Tq: 3, Tk: 3, D: 2, causal: true }),
    attnCase('float mask, GQA H4 Hkv1', { B: 1, H: 4, Hkv: 1, Tq: 2, Tk: 3, D: 2, mask: 'float' }, 'strided'),
    attnCase('causal, q and k at an offset', { B: 1, H: 2, Hkv: 1, Tq: 3, Tk: 3, D: 2, causal: true }, 'offset'),
  ] },
  { name: 'rotary (rotate-half)', cases: [
    ropeCase('[1, 2, 3, 4]', [1, 2, 3, 4], false, 'contiguous'), ropeCase('[2, 5, 6] transposed', [2, 5, 6], false, 'transposed'),
  ] },
  { name: 'rotary (interleaved)', cases: [
    ropeCase('[1, 2, 3, 4]', [1, 2, 3, 4], true, 'contiguous'), ropeCase('[2, 5, 6] strided', [2, 5, 6], true, 'strided'),
  ] },
  { name: 'conv1d', cases: [
    convCase(1, 'stride 1, no padding, bias', [2, 2, 6], [3, 2, 3], 1, 0, true),
    convCase(1, 'stride 2, padding 1, strided input', [1, 3, 7], [2, 3, 3], 2, 1, false, 'strided'),
    convCase(1, 'kernel 1 on transposed input', [2, 3, 4], [2, 3, 1], 1, 0, true, 'transposed'),
    convCase(1, 'input at an offset', [1, 2, 5], [2, 2, 2], 1, 1, true, 'offset'),
    convCase(1, 'stride = kernel (patchify path)', [2, 3, 6], [4, 3, 2], 2, 0, true),
    convCase(1, 'padding 2, kernel 2: the first and last windows read only zeros', [1, 2, 4], [2, 2, 2], 1, 2, true),
    convCase(1, 'padding 2, stride 3, odd length', [2, 3, 7], [2, 3, 3], 3, 2, false, 'strided'),
  ] },
  { name: 'conv2d', cases: [
    convCase(2, 'stride 1, padding 1, bias', [1, 2, 4, 4], [3, 2, 3, 3], 1, 1, true),
    convCase(2, 'stride 2, no padding, transposed input', [2, 1, 5, 5], [2, 1, 2, 2], 2, 0, false, 'transposed'),
    convCase(2, 'stride 2, padding 1 (patch-embed like)', [1, 2, 5, 4], [2, 2, 3, 3], 2, 1, true, 'strided'),
    convCase(2, 'input at an offset', [1, 1, 3, 3], [1, 1, 2, 2], 1, 0, false, 'offset'),
    // stride = kernel, no padding, tiles the input: the patchify path (a permuted view + one GEMM)
    convCase(2, 'patchify, bias', [2, 3, 4, 6], [5, 3, 2, 2], 2, 0, true),
    convCase(2, 'patchify, transposed input', [1, 2, 6, 6], [3, 2, 3, 3], 3, 0, false, 'transposed'),
  ] },
  { name: 'avg_pool1d', cases: [
    poolCase('k2 s2', [2, 2, 6], 2, 2, 'contiguous'), poolCase('k3 s1 transposed', [1, 3, 5], 3, 1, 'transposed'),
    poolCase('k3 s2 strided (last window drops)', [1, 2, 8], 3, 2, 'strided'), poolCase('k2 s1 at an offset', [1, 2, 4], 2, 1, 'offset'),
  ] },
  { name: 'cross_entropy', cases: [
    ceCase('mean over [4, 5] with one ignored', [4, 5], [1, -100, 4, 0], 'mean'),
    ceCase('sum over [2, 3, 4] transposed', [2, 3, 4], [0, 3, -100, 2, 2, 1], 'sum', 'transposed'),
    ceCase('none over [3, 4] strided', [3, 4], [3, -100, 0], 'none', 'strided'),
    ceCase('mean over [2, 3] at an offset', [2, 3], [2, 0], 'mean', 'offset'),
  ] },
  { name: 'bce_with_logits', cases: [
    bceCase('[3, 5], targets 0 / 1', [3, 5], 'contiguous', (i) => i % 2),
    bceCase('[2, 3, 4] transposed, targets in [0, 1]', [2, 3, 4], 'transposed', (i) => (i % 5) / 4),
    bceCase('[2, 6] with logits up to ±40 (no overflow)', [2, 6], 'contiguous', (i) => i % 3 === 0 ? 1 : 0, 40),
  ] },
  { name: 'dropout', cases: [
    { label: 'train p=0.3 with a seeded rng', inputs: () => [R([4, 5], 'transposed')], fn: (x) => T.dropout(x!, 0.3, true, new T.Rng(7)),
      expect: (x) => { const r = new T.Rng(7); return ex([4, 5], (i) => (r.next() >= 0.3 ? at(x!, i) / 0.7 : 0)); } },
    { label: 'eval is identity', inputs: () => [R([3, 2], 'strided')], fn: (x) => T.dropout(x!, 0.5, false), expect: (x) => ex([3, 2], (i) => at(x!, i)) },
  ] },
  { name: 'reshape', cases: [
    { label: 'transposed [3, 4] to [2, 6] (copies)', inputs: () => [R([3, 4], 'transposed')], fn: (x) => x!.reshape([2, 6]),
      expect: (x) => ex([2, 6], ([r, c]) => { const f = r! * 6 + c!; return at(x!, [Math.floor(f / 4), f % 4]); }) },
    { label: '[2, 3, 4] to [-1, 4]', inputs: () => [R([2, 3, 4])], fn: (x) => x!.reshape([-1, 4]),
      expect: (x) => ex([6, 4], ([r, c]) => at(x!, [Math.floor(r! / 3), r! % 3, c!])) },
    { label: 'expanded [2, 3] to [6]', inputs: () => [R([2, 3], 'expanded')], fn: (x) => x!.reshape([6]),
      expect: (x) => ex([6], ([f]) => at(x!, [Math.floor(f! / 3), f! % 3])) },
  ] },
  { name: 'permute', cases: [
    { label: '[2, 3, 4] strided to (2, 0, 1)', inputs: () => [R([2, 3, 4], 'strided')], fn: (x) => x!.permute(2, 0, 1).mul(1),
      expect: (x) => ex([4, 2, 3], ([a, b, c]) => at(x!, [b!, c!, a!])) },
    { label: 'permute then matmul', inputs: () => [R([3, 2, 4], 'transposed'), R([2, 4, 3])], fn: (x, y) => x!.permute(1, 0, 2).matmul(y!),
      expect: (x, y) => matmulRef(x!.permute(1, 0, 2), y!) },
  ] },
  { name: 'transpose', cases: [
    { label: 'dims 0 and 2', inputs: () => [R([2, 3, 4])], fn: (x) => x!.transpose(0, 2), expect: (x) => ex([4, 3, 2], ([a, b, c]) => at(x!, [c!, b!, a!])) },
    { label: '.T of a transposed view is contiguous data', inputs: () => [R([3, 2], 'transposed')], fn: (x) => x!.T.contiguous(),
      expect: (x) => ex([2, 3], ([a, b]) => at(x!, [b!, a!])) },
  ] },
  { name: 'slice', cases: [
    { label: 'step 2 along axis 1', inputs: () => [R([3, 7], 'transposed')], fn: (x) => x!.slice(1, 1, 6, 2),
      expect: (x) => ex([3, 3], ([r, c]) => at(x!, [r!, 1 + 2 * c!])) },
    { label: 'negative start, step 3, of a strided view', inputs: () => [R([8, 2], 'strided')], fn: (x) => x!.slice(0, -7, undefined, 3),
      expect: (x) => ex([3, 2], ([r, c]) => at(x!, [1 + 3 * r!, c!])) },
    { label: 'slice of a slice', inputs: () => [R([2, 9])], fn: (x) => x!.slice(1, 1, 9, 2).slice(1, 1, 4),
      expect: (x) => ex([2, 3], ([r, c]) => at(x!, [r!, 3 + 2 * c!])) },
  ] },
  { name: 'expand', cases: [
    { label: '[3, 1] to [2, 3, 4]', inputs: () => [R([3, 1])], fn: (x) => x!.expand([2, 3, 4]), expect: (x) => ex([2, 3, 4], ([, b]) => at(x!, [b!, 0])) },
    { label: '[4] strided to [3, -1]', inputs: () => [R([4], 'strided')], fn: (x) => x!.expand([3, -1]).mul(2), expect: (x) => ex([3, 4], ([, b]) => 2 * at(x!, [b!])) },
  ] },
  { name: 'squeeze', cases: [
    { label: 'all size-1 dims', inputs: () => [R([1, 3, 1, 2])], fn: (x) => x!.squeeze(), expect: (x) => ex([3, 2], ([a, b]) => at(x!, [0, a!, 0, b!])) },
    { label: 'one axis of a strided view', inputs: () => [R([2, 1, 3], 'strided')], fn: (x) => x!.squeeze(1), expect: (x) => ex([2, 3], ([a, b]) => at(x!, [a!, 0, b!])) },
  ] },
  { name: 'unsqueeze', cases: [
    { label: 'axis 1 of transposed [3, 2]', inputs: () => [R([3, 2], 'transposed')], fn: (x) => x!.unsqueeze(1), expect: (x) => ex([3, 1, 2], ([a, , b]) => at(x!, [a!, b!])) },
    { label: 'axis -1 then broadcast mul', inputs: () => [R([3]), R([3, 4])], fn: (x, y) => x!.unsqueeze(-1).mul(y!),
      expect: (x, y) => ex([3, 4], ([a, b]) => at(x!, [a!]) * at(y!, [a!, b!])) },
  ] },
  { name: 'contiguous', cases: [
    { label: 'of a transposed view', inputs: () => [R([3, 4], 'transposed')], fn: (x) => x!.contiguous(), expect: (x) => ex([3, 4], (i) => at(x!, i)) },
    { label: 'of an expanded view', inputs: () => [R([2, 3], 'expanded')], fn: (x) => x!.contiguous(), expect: (x) => ex([2, 3], (i) => at(x!, i)) },
  ] },
  { name: 'cast', cases: [
    { label: 'float64 → float32 → float64 (values exact in float32)',
      inputs: () => { const x = R([3, 4], 'transposed'); const s = x.storage as Float64Array; s.forEach((v, i) => { s[i] = Math.round(v * 8) / 8; }); return [x]; },
      fn: (x) => x!.to('float32').mul(3).to('float64'), expect: (x) => ex([3, 4], (i) => 3 * at(x!, i)), tol: { eps: 1 / 64 } },
    { label: 'float64 → int32 truncates toward zero', inputs: () => [T.tensor([-2.7, -0.5, 0.5, 2.9], { dtype: 'float64' })],
      fn: (x) => x!.to('int32'), expect: () => ({ shape: [4], values: Float64Array.from([-2, 0, 0, 2]) }), grad: false },
    { label: 'float32 → float16 rounds to nearest even', inputs: () => [T.tensor([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520])],
      fn: (x) => x!.to('float16'), expect: () => ({ shape: [3], values: Float64Array.from([1, 1 + 2 ** -9, Infinity]) }), grad: false },
  ] },
];

test('the table has an entry with cases for every required op, and no unknown names', () => {
  const names = TABLE.map((e) => e.name);
  const missing = REQUIRED.filter((n) => !names.includes(n));
  assert.deepEqual(missing, [], `ops without a test entry: ${missing.join(', ')}`);
  assert.equal(new Set(names).size, names.length, 'duplicate entries');
  for (const e of TABLE) assert.ok(e.cases.length >= 2, `${e.name} has ${e.cases.length} case(s); several shapes are required`);
});

for (const entry of TABLE) {
  for (const c of entry.cases) {
    test(`${entry.name}: ${c.label}`, () => {
      const xs = c.inputs();
      if (c.expect) {
        const out = T.noGrad(() => c.fn(...xs));
        const want = c.expect(...xs);
        assert.deepEqual([...out.shape], [...want.shape], 'output shape');
        assertClose(out, want.values, { atol: 1e-10, rtol: 1e-9 }, `${entry.name} forward`);
      }
      if (c.grad !== false) gradcheck(c.fn, xs, c.tol);
    });
  }
}
