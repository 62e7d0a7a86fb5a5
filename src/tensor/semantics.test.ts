// Behaviours of the nn ops that a gradcheck alone does not pin down: GELU at known values, the embedding
// padding row's gradient, dropout's expectation, NaN-free gradients through where/maskedFill with an inf
// branch, cross-entropy with ignored rows (torch's mean over non-ignored, NaN when all are ignored), attention
// rows that see no key, and ropeAngles against the formula. Values from torch / the Gaussian CDF.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from './index.ts';
import { assertClose, randomTensor } from './testing.ts';

test('gelu (erf), gelu (tanh) and quick_gelu at known values', () => {
  // torch.nn.functional.gelu(torch.tensor([1., -1., 2., 0.5, -3.], dtype=torch.float64)) (= x·Φ(x))
  const x = T.tensor([1, -1, 2, 0.5, -3, 0], { dtype: 'float64' });
  assertClose(T.gelu(x), [0.8413447460685429, -0.15865525393145702, 1.9544997361036416, 0.34573123063700656, -0.00404969409489031, 0],
    { atol: 1e-15, rtol: 1e-14 });
  // approximate='tanh'
  assertClose(T.geluTanh(x), [0.8411919906082768, -0.15880800939172324, 1.954597694087775, 0.34571400982514394, -0.0036373920817729943, 0],
    { atol: 1e-15, rtol: 1e-14 });
  assertClose(T.quickGelu(T.tensor([1], { dtype: 'float64' })), [1 / (1 + Math.exp(-1.702))], { atol: 1e-15 });
});

test('embedding: the padding row gets exactly zero gradient, other rows sum their uses', () => {
  const w = randomTensor([4, 3], { seed: 3 }).requireGrad();
  const ids = T.tensor([[2, 0, 2], [0, 1, 0]], { dtype: 'int32' });
  const y = T.embedding(w, ids, 0);
  assert.deepEqual([...y.shape], [2, 3, 3]);
  y.mul(T.arange(0, 18, 1, 'float64').reshape([2, 3, 3])).sum().backward();
  const g = w.grad!.toList();
  assert.deepEqual(g.slice(0, 3), [0, 0, 0], 'padding row');
  assert.deepEqual(g.slice(3, 6), [12, 13, 14], 'row 1 used once at position (1, 1)');
  assert.deepEqual(g.slice(6, 9), [0 + 6, 1 + 7, 2 + 8], 'row 2 used at (0, 0) and (0, 2)');
  assert.deepEqual(g.slice(9), [0, 0, 0], 'unused row');
  // the forward still reads the padding row (torch does not zero it in the lookup)
  assertClose(y.slice(0, 0, 1).slice(1, 1, 2).reshape([3]), w.slice(0, 0, 1).reshape([3]));
});

test('dropout keeps the expectation, zeroes a fraction p, and is the identity in eval', () => {
  const n = 200_000, p = 0.25;
  const x = T.full([n], 2, 'float64');
  const y = T.dropout(x, p, true, new T.Rng(11)).toFloat64();
  let zeros = 0, sum = 0;
  for (const v of y) { if (v === 0) zeros++; else assert.equal(v, 2 / (1 - p)); sum += v; }
  assert.ok(Math.abs(zeros / n - p) < 0.005, `zeroed fraction ${zeros / n}`);
  assert.ok(Math.abs(sum / n - 2) < 0.02, `mean ${sum / n}`);
  assert.equal(T.dropout(x, p, false), x);
  assert.equal(T.dropout(x, 0, true), x);
  assert.throws(() => T.dropout(x, 1, true), /p must be in \[0, 1\)/);
});

test('where / maskedFill: no NaN gradient where the unselected branch is inf', () => {
  const x = T.tensor([1, 2, 3, 4], { dtype: 'float64' }).requireGrad();
  const mask = T.tensor([1, 0, 1, 0], { dtype: 'bool' });
  const filled = T.maskedFill(x, mask, -Infinity); // softmax over a -inf-masked row, as attention masks do
  T.softmax(filled).mul(T.tensor([1, 2, 3, 4], { dtype: 'float64' })).sum().backward();
  const g = x.grad!.toList();
  assert.ok(g.every(Number.isFinite), `grad ${g}`);
  assert.equal(g[0], 0);
  assert.equal(g[2], 0);
  const a = T.tensor([1, 2], { dtype: 'float64' }).requireGrad();
  const b = T.tensor([Infinity, -Infinity], { dtype: 'float64' }).requireGrad();
  T.where(T.tensor([1, 1], { dtype: 'bool' }), a, b).sum().backward();
  assert.deepEqual(a.grad!.toList(), [1, 1]);
  assert.deepEqual(b.grad!.toList(), [0, 0]);
});

test('cross-entropy: mean over non-ignored rows; all-ignored gives NaN (as torch) and zero gradient', () => {
  const logits = randomTensor([3, 4], { seed: 5 }).requireGrad();
  const loss = T.crossEntropy(logits, T.tensor([1, -100, 3], { dtype: 'int64' }));
  const none = T.crossEntropy(logits, T.tensor([1, -100, 3], { dtype: 'int64' }), { reduction: 'none' }).toList();
  assert.equal(none[1], 0);
  assertClose([loss.item()], [(none[0]! + none[2]!) / 2]);
  loss.backward();
  assert.deepEqual(logits.grad!.toList().slice(4, 8), [0, 0, 0, 0], 'ignored row');
  const rowSum = logits.grad!.sum(1).toList();
  assertClose(rowSum, [0, 0, 0], { atol: 1e-15 });
  const all = randomTensor([2, 3], { seed: 6 }).requireGrad();
  const l2 = T.crossEntropy(all, T.tensor([-100, -100], { dtype: 'int32' }));
  assert.ok(Number.isNaN(l2.item()));
  l2.backward();
  assert.deepEqual(all.grad!.toList(), [0, 0, 0, 0, 0, 0]);
  assert.equal(T.crossEntropy(all, T.tensor([-100, -100], { dtype: 'int32' }), { reduction: 'sum' }).item(), 0);
  assert.equal(T.crossEntropy(all, T.tensor([0, 5], { dtype: 'int32' }), { ignoreIndex: 5 }).item(),
    T.crossEntropy(all.slice(0, 0, 1), T.tensor([0], { dtype: 'int32' })).item());
});

test('attention: a query row that sees no key gives zeros and no NaN gradient', () => {
  const q = randomTensor([1, 1, 2, 2], { seed: 7 }).requireGrad();
  const k = randomTensor([1, 1, 2, 2], { seed: 8 }).requireGrad();
  const v = randomTensor([1, 1, 2, 2], { seed: 9 }).requireGrad();
  const mask = T.tensor([0, 0, 1, 1], { shape: [1, 1, 2, 2], dtype: 'bool' });
  const y = T.scaledDotProductAttention(q, k, v, { mask });
  assert.deepEqual(y.toList().slice(0, 2), [0, 0]);
  y.sum().backward();
  for (const t of [q, k, v]) assert.ok(t.grad!.toList().every(Number.isFinite));
});

test('ropeAngles: cos/sin of position · theta^(-2i/D)', () => {
  const D = 8, inv = Float64Array.from({ length: D / 2 }, (_, i) => 10000 ** (-2 * i / D));
  const { cos, sin } = T.ropeAngles([0, 3, 7], inv);
  assert.equal(cos.length, 12);
  assert.equal(cos[0], 1);
  assertClose([cos[1 * 4 + 2]!, sin[2 * 4 + 1]!], [Math.cos(3 * 0.01), Math.sin(7 * 0.1)], { atol: 1e-15 });
  // rotate-half is an orthogonal map: norms per position are kept
  const x = randomTensor([3, D], { seed: 10 });
  const c = T.concat([T.tensor(cos, { shape: [3, 4] }), T.tensor(cos, { shape: [3, 4] })], 1).to('float64');
  const s = T.concat([T.tensor(sin, { shape: [3, 4] }), T.tensor(sin, { shape: [3, 4] })], 1).to('float64');
  assertClose(T.applyRope(x, c, s).square().sum(1), x.square().sum(1), { atol: 1e-6 });
});
