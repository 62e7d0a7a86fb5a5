// Every fast backend against the reference backend, op by op, forward and backward, on random shapes with
// odd sizes, size-1 dims and non-contiguous inputs. Each case reports its max error against a per-op bound
// scaled by the magnitude of the reference result.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from './backend.ts';
import { withBackend } from './registry.ts';
import { loadFastBackends } from './select.ts';
import * as T from '../tensor/index.ts';
import { Rng, type Tensor } from '../tensor/index.ts';

interface Case {
  name: string;
  /** Builds fresh inputs from the rng (leaves that require grad are differentiated). */
  inputs: (rng: Rng) => Tensor[];
  run: (...xs: Tensor[]) => Tensor;
  /** relative error bound against max(1, max|ref|) */
  tol: number;
}

const r = (shape: number[], rng: Rng, scale = 1) => T.randn(shape, { rng, std: scale }).requireGrad();
const ids = (shape: number[], n: number, rng: Rng) => T.randint(0, n, shape, { rng });

const cases: Case[] = [
  ...([[1, 1, 1], [7, 13, 5], [33, 65, 17], [64, 64, 64], [3, 1, 130]] as const).flatMap(([M, K, N]) => [
    { name: `matmul ${M}x${K}x${N}`, inputs: (g: Rng) => [r([M, K], g), r([K, N], g)], run: (a: Tensor, b: Tensor) => T.matmul(a, b), tol: 1e-5 },
    { name: `matmul aT ${M}x${K}x${N}`, inputs: (g: Rng) => [r([K, M], g), r([N, K], g)], run: (a: Tensor, b: Tensor) => T.matmul(a.T, b.T), tol: 1e-5 },
  ]),
  { name: 'batched matmul broadcast', inputs: (g) => [r([2, 3, 5, 7], g), r([3, 7, 4], g)], run: (a, b) => T.matmul(a, b), tol: 1e-5 },
  { name: 'linear with bias', inputs: (g) => [r([2, 9, 31], g), r([17, 31], g), r([17], g)], run: (x, w, b) => T.linear(x, w, b), tol: 1e-5 },
  { name: 'add broadcast', inputs: (g) => [r([4, 1, 7], g), r([5, 1], g)], run: (a, b) => T.add(a, b), tol: 1e-6 },
  { name: 'mul rows', inputs: (g) => [r([6, 33], g), r([33], g)], run: (a, b) => T.mul(a, b), tol: 1e-6 },
  { name: 'div', inputs: (g) => [r([5, 9], g), T.add(T.abs(T.randn([5, 9], { rng: g })), 0.5).detach().requireGrad()], run: (a, b) => T.div(a, b), tol: 1e-5 },
  { name: 'sub on a transposed view', inputs: (g) => [r([9, 5], g), r([5, 9], g)], run: (a, b) => T.sub(a.T, b), tol: 1e-6 },
  ...(['exp', 'tanh', 'sigmoid', 'relu', 'silu', 'gelu', 'geluTanh', 'quickGelu', 'neg', 'square'] as const).map((op) => ({
    name: op, inputs: (g: Rng) => [r([3, 37], g, 2)], run: (x: Tensor) => T.unaryOp(op, x), tol: 1e-5,
  })),
  { name: 'softmax last axis', inputs: (g) => [r([5, 67], g, 3)], run: (x) => T.softmax(x, -1), tol: 1e-5 },
  { name: 'softmax axis 0 (non-contiguous)', inputs: (g) => [r([9, 4], g, 3)], run: (x) => T.softmax(x, 0), tol: 1e-5 },
  { name: 'logSoftmax', inputs: (g) => [r([4, 129], g, 3)], run: (x) => T.logSoftmax(x, -1), tol: 1e-5 },
  { name: 'layerNorm', inputs: (g) => [r([3, 5, 65], g, 2), r([65], g), r([65], g)], run: (x, w, b) => T.layerNorm(x, w, b, 1e-5), tol: 1e-4 },
  { name: 'rmsNorm', inputs: (g) => [r([7, 33], g, 2), r([33], g)], run: (x, w) => T.rmsNorm(x, w, 1e-6), tol: 1e-4 },
  { name: 'sum / mean / max over axes', inputs: (g) => [r([4, 6, 5], g)], run: (x) => T.add(T.sum(x, [0, 2]), T.add(T.mean(x, 1).sum(), T.max(x, -1).sum())), tol: 1e-5 },
  { name: 'attention causal', inputs: (g) => [r([2, 4, 9, 8], g), r([2, 4, 9, 8], g), r([2, 4, 9, 8], g)], run: (q, k, v) => T.scaledDotProductAttention(q, k, v, { causal: true }), tol: 1e-4 },
  { name: 'attention GQA + padding mask', inputs: (g) => [r([2, 4, 5, 16], g), r([2, 2, 7, 16], g), r([2, 2, 7, 16], g)],
    run: (q, k, v) => T.scaledDotProductAttention(q, k, v, { mask: T.tensor([[1, 1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1, 1]], { dtype: 'bool' }).reshape([2, 1, 1, 7]) }), tol: 1e-4 },
  { name: 'attention decode step (Tq=1, causal)', inputs: (g) => [r([1, 4, 1, 8], g), r([1, 2, 11, 8], g), r([1, 2, 11, 8], g)], run: (q, k, v) => T.scaledDotProductAttention(q, k, v, { causal: true }), tol: 1e-4 },
  { name: 'attention on head-transposed views (bthd), causal, GQA', inputs: (g) => [r([2, 9, 4, 8], g), r([2, 9, 2, 8], g), r([2, 9, 2, 8], g)],
    run: (q, k, v) => T.scaledDotProductAttention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), { causal: true }), tol: 1e-4 },
  { name: 'attention bthd with right padding (key mask)', inputs: (g) => [r([2, 6, 2, 16], g), r([2, 6, 2, 16], g), r([2, 6, 2, 16], g)],
    run: (q, k, v) => T.scaledDotProductAttention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
      { causal: true, mask: T.tensor([[0, 0, 0, 0, -Infinity, -Infinity], [0, 0, 0, 0, 0, 0]]).reshape([2, 1, 1, 6]) }), tol: 1e-4 },
  { name: 'attention bthd with left padding (full HF mask)', inputs: (g) => [r([2, 5, 2, 8], g), r([2, 5, 2, 8], g), r([2, 5, 2, 8], g)],
    run: (q, k, v) => T.scaledDotProductAttention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
      { mask: T.tensor([[0, -3.4e38, -3.4e38, -3.4e38, -3.4e38], [-3.4e38, -3.4e38, 0, 0, 0]]).reshape([2, 1, 1, 5]) }), tol: 1e-4 },
  { name: 'rmsNorm without weight', inputs: (g) => [r([4, 40], g, 2)], run: (x) => T.rmsNorm(x, null, 1e-5), tol: 1e-4 },
  { name: 'bias gradient (sum over leading axes)', inputs: (g) => [r([3, 4, 21], g), r([21], g)], run: (x, b) => T.add(x, b), tol: 1e-5 },
  { name: 'swiglu', inputs: (g) => [r([5, 67], g, 2), r([5, 67], g)], run: (a, b) => T.swiglu(a, b), tol: 1e-5 },
  { name: 'rope fused, per-sequence tables, partial rotary', inputs: (g) => [r([2, 7, 3, 16], g), T.randn([2, 7, 1, 8], { rng: g }), T.randn([2, 7, 1, 8], { rng: g })],
    run: (x, c, s) => T.rope(x, c, s), tol: 1e-5 },
  { name: 'crossEntropy with ignore', inputs: (g) => [r([6, 41], g, 2), T.tensor([3, -100, 40, 0, -100, 7], { dtype: 'int64' })], run: (x, t) => T.crossEntropy(x, t), tol: 1e-5 },
  { name: 'embedding', inputs: (g) => [r([13, 6], g), ids([2, 5], 13, g)], run: (w, i) => T.embedding(w, i, 0), tol: 1e-6 },
  { name: 'conv2d patchify', inputs: (g) => [r([2, 3, 8, 8], g), r([5, 3, 4, 4], g), r([5], g)], run: (x, w, b) => T.conv2d(x, w, b, { stride: 4 }), tol: 1e-5 },
  { name: 'conv2d stride/pad', inputs: (g) => [r([2, 3, 9, 7], g), r([4, 3, 3, 3], g), r([4], g)], run: (x, w, b) => T.conv2d(x, w, b, { stride: 2, padding: 1 }), tol: 1e-5 },
  { name: 'conv1d', inputs: (g) => [r([2, 3, 17], g), r([5, 3, 3], g), r([5], g)], run: (x, w, b) => T.conv1d(x, w, b, { stride: 2, padding: 1 }), tol: 1e-5 },
  { name: 'attention bhtd causal, odd head dim, rows past one query block', inputs: (g) => [r([2, 3, 70, 5], g), r([2, 3, 70, 5], g), r([2, 3, 70, 5], g)],
    run: (q, k, v) => T.scaledDotProductAttention(q, k, v, { causal: true }), tol: 1e-4 },
  { name: 'attention causal over a longer key cache (T 70, S 90), GQA, key mask: query blocks past the first',
    inputs: (g) => [r([2, 4, 70, 8], g), r([2, 2, 90, 8], g), r([2, 2, 90, 8], g)],
    run: (q, k, v) => T.scaledDotProductAttention(q, k, v,
      { causal: true, mask: T.tensor(Array.from({ length: 180 }, (_, i) => (i % 90 === 3 || i === 150 ? 0 : 1)), { dtype: 'bool' }).reshape([2, 1, 1, 90]) }), tol: 1e-4 },
  { name: 'attention bhtd GQA bidirectional, Tq != Tk', inputs: (g) => [r([1, 4, 13, 12], g), r([1, 2, 21, 12], g), r([1, 2, 21, 12], g)],
    run: (q, k, v) => T.scaledDotProductAttention(q, k, v), tol: 1e-4 },
  { name: 'attention bthd anchor-like (T 130, D 64)', inputs: (g) => [r([1, 130, 2, 64], g), r([1, 130, 2, 64], g), r([1, 130, 2, 64], g)],
    run: (q, k, v) => T.scaledDotProductAttention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), { causal: true }), tol: 1e-4 },
  { name: 'rope full rotary, shared tables, 70 positions', inputs: (g) => [r([2, 70, 3, 64], g), T.randn([70, 64], { rng: g }), T.randn([70, 64], { rng: g })],
    run: (x, c, s) => T.rope(x, c, s), tol: 1e-5 },
  { name: 'crossEntropy wide rows with ignore', inputs: (g) => [r([37, 515], g, 3), T.tensor(Array.from({ length: 37 }, (_, i) => (i % 5 === 0 ? -100 : (i * 97) % 515)), { dtype: 'int64' })],
    run: (x, t) => T.crossEntropy(x, t), tol: 1e-5 },
  ...(['abs', 'sqrt', 'rsqrt'] as const).map((op) => ({
    name: `${op} (positive input)`, inputs: (g: Rng) => [T.add(T.abs(T.randn([5, 37], { rng: g })), 0.2).detach().requireGrad()], run: (x: Tensor) => T.unaryOp(op, x), tol: 1e-5,
  })),
  { name: 'mul by a column [rows, 1]', inputs: (g) => [r([6, 33], g), r([6, 1], g)], run: (a, b) => T.mul(a, b), tol: 1e-6 },
  { name: 'column first operand, commuting (add)', inputs: (g) => [r([2, 7, 1], g), r([2, 7, 19], g)], run: (a, b) => T.add(a, b), tol: 1e-6 },
  { name: 'div by a scalar tensor', inputs: (g) => [r([5, 41], g), T.add(T.abs(T.randn([1], { rng: g })), 0.5).detach().requireGrad()], run: (a, b) => T.div(a, b), tol: 1e-5 },
  { name: 'copy [B, T, H, D] → [B, H, T, D]', inputs: (g) => [r([2, 9, 5, 16], g)], run: (x) => T.mul(x.transpose(1, 2).contiguous(), 1), tol: 1e-6 },
  { name: 'copy of a transposed matrix', inputs: (g) => [r([33, 65], g)], run: (x) => T.mul(x.T.contiguous(), 1), tol: 1e-6 },
  // a patch embedding: conv output [B, C, N] read as [B, N, C] plus position embeddings [1, N, C] (dense copy, then a
  // repeated block); its backward sums the transposed gradient over the batch; and a 6-D patchify permute
  { name: 'transposed operand plus a repeated block', inputs: (g) => [r([3, 40, 36], g), r([1, 36, 40], g)], run: (x, p) => T.add(x.transpose(1, 2), p), tol: 1e-6 },
  { name: 'mean / sum over middle axes (windows, as audio pooling reads them)', inputs: (g) => [r([3, 5, 2, 20], g)], run: (x) => T.add(T.mean(x, 2), T.sum(x, [1, 2], true).squeeze(1)), tol: 1e-5 },
  { name: 'sum over leading axes of a transposed view', inputs: (g) => [r([3, 40, 36], g)], run: (x) => T.sum(x.transpose(1, 2), [0, 1]), tol: 1e-5 },
  { name: 'copy of a 6-D permute (patchify)', inputs: (g) => [r([2, 3, 16, 24], g)],
    run: (x) => T.mul(x.reshape([2, 3, 4, 4, 6, 4]).permute(0, 2, 4, 1, 3, 5).contiguous(), 1), tol: 1e-6 },
  { name: 'rope rotate-half', inputs: (g) => [r([2, 3, 5, 8], g), T.randn([5, 8], { rng: g }), T.randn([5, 8], { rng: g })], run: (x, c, s) => T.applyRope(x, c, s), tol: 1e-5 },
];

function compare(what: string, ref: Tensor, got: Tensor, tol: number): void {
  assert.deepEqual(got.shape, ref.shape, `${what}: shape`);
  const a = ref.toFloat64(), b = got.toFloat64();
  let scale = 1, err = 0;
  for (let i = 0; i < a.length; i++) { scale = Math.max(scale, Math.abs(a[i]!)); err = Math.max(err, Math.abs(a[i]! - b[i]!)); }
  assert.ok(err <= tol * scale, `${what}: max error ${err.toExponential(2)} > ${tol} × ${scale.toPrecision(3)}`);
}

/** Forward output and the gradient of every input that requires one, under backend b (null = reference). */
function evaluate(c: Case, b: Backend | null): Tensor[] {
  const go = () => {
    const xs = c.inputs(new Rng(1234));
    const y = c.run(...xs);
    // a fixed random weighting of the output makes every element's gradient matter
    const w = T.randn(y.shape, { rng: new Rng(99) });
    T.sum(T.mul(y, w)).backward();
    return [y.detach(), ...xs.filter((x) => x.requiresGrad).map((x) => x.grad ?? T.zerosLike(x))];
  };
  return b ? withBackend(b, go) : go();
}

const { backends, unavailable } = await loadFastBackends();
if (unavailable.length) test(`backends unavailable here: ${unavailable.join('; ')}`, { skip: true }, () => {});

for (const b of backends) {
  for (const c of cases) {
    test(`${b.name}: ${c.name} matches the reference (forward and backward)`, () => {
      const ref = evaluate(c, null), got = evaluate(c, b);
      compare('forward', ref[0]!, got[0]!, c.tol);
      for (let i = 1; i < ref.length; i++) compare(`grad of input ${i - 1}`, ref[i]!, got[i]!, c.tol * 10);
    });
  }
}
