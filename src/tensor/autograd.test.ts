// Autograd semantics, as torch: gradients accumulate across backward calls, noGrad records nothing, frozen
// leaves get no gradient, a tensor used twice sums its gradients, a diamond graph adds both paths,
// backward needs a scalar (or an explicit gradient), and a freed tape cannot be walked twice.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from './index.ts';
import { assertClose, randomTensor } from './testing.ts';

const f64 = (v: number[]) => T.tensor(v, { dtype: 'float64' });

test('gradients accumulate across two backward calls', () => {
  const w = f64([1, -2, 3]).requireGrad();
  const x = f64([0.5, 4, -1]);
  w.mul(x).sum().backward();
  assert.deepEqual(w.grad!.toList(), [0.5, 4, -1]);
  w.mul(x).square().sum().backward(); // d/dw (w x)² = 2 w x²
  assert.deepEqual(w.grad!.toList(), [0.5 + 2 * 0.25, 4 - 2 * 2 * 16, -1 + 2 * 3]);
});

test('noGrad records no tape and leaves no gradient path', () => {
  const w = f64([1, 2]).requireGrad();
  const y = T.noGrad(() => w.mul(3).exp());
  assert.equal(y.requiresGrad, false);
  assert.equal(y.gradFn, null);
  assert.equal(T.isGradEnabled(), true);
  assert.throws(() => y.sum().backward(), /does not require grad/);
  assert.throws(() => T.noGrad(() => { throw new Error('inner'); }), /inner/);
  assert.equal(T.isGradEnabled(), true, 'restored after a throw');
});

test('a frozen leaf (requiresGrad false) gets no gradient, and needs none computed', () => {
  const w = f64([1, 2]).requireGrad();
  const frozen = f64([3, 4]);
  const alsoFrozen = f64([5, 6]).requireGrad(false);
  w.mul(frozen).add(alsoFrozen).sum().backward();
  assert.deepEqual(w.grad!.toList(), [3, 4]);
  assert.equal(frozen.grad, null);
  assert.equal(alsoFrozen.grad, null);
  assert.throws(() => T.tensor([1], { dtype: 'int32' }).requireGrad(), /only float tensors/);
});

test('a tensor used twice sums its gradients', () => {
  const x = f64([1.5, -2]).requireGrad();
  x.mul(x).sum().backward();
  assert.deepEqual(x.grad!.toList(), [3, -4]);
  const y = f64([1, 2, 3]).requireGrad();
  T.concat([y, y.slice(0, 1)], 0).sum().backward();
  assert.deepEqual(y.grad!.toList(), [1, 2, 2]);
});

test('slices of one tensor: their gradients are gathered into it (tiling windows, overlapping and strided ones, plus a direct use)', () => {
  // y = x · 2 so the slices' input is an op output (gathered before its rule runs) and x a leaf behind it
  const x = randomTensor([2, 3, 7], { seed: 3 }).requireGrad();
  const r = randomTensor([2, 3, 7], { seed: 4 });
  const y = x.mul(2);
  // q, k, v of a fused projection: three windows that tile the last axis, used in another order
  const parts = [[2, 5], [0, 2], [5, 7]] as const;
  parts.map(([s, e]) => y.slice(-1, s, e).mul(r.slice(-1, s, e)).sum()).reduce((p, q) => p.add(q)).backward();
  assertClose(x.grad!, r.mul(2));
  // overlapping, strided and partial windows along two axes, and y used whole too: each element's gradient
  // is 2 · (1 + how many windows hold it)
  x.grad = null;
  const z = x.mul(2);
  const uses = [z.slice(-1, 0, 4), z.slice(-1, 2, 7, 2), z.slice(1, 1, 3), z];
  uses.map((u) => u.sum()).reduce((p, q) => p.add(q)).backward();
  const want = Array.from({ length: 2 * 3 * 7 }, (_, i) => {
    const row = Math.floor(i / 7) % 3, col = i % 7;
    return 2 * (1 + (col < 4 ? 1 : 0) + (col >= 2 && col % 2 === 0 ? 1 : 0) + (row >= 1 ? 1 : 0));
  });
  assertClose(x.grad!, T.tensor(want, { dtype: 'float64' }).reshape([2, 3, 7]));
  // a slice of a leaf, alone: its window of the gradient, zero elsewhere; a retained graph gathers again
  const w = f64([1, 2, 3, 4]).requireGrad();
  const loss = w.slice(0, 1, 3).mul(f64([5, 6])).sum().add(w.slice(0, 0, 2).sum());
  loss.backward(undefined, { retainGraph: true });
  assert.deepEqual(w.grad!.toList(), [1, 6, 6, 0]);
  loss.backward();
  assert.deepEqual(w.grad!.toList(), [2, 12, 12, 0]);
});

test('a diamond graph adds the gradients of both paths', () => {
  const a = f64([0.3, -0.7]).requireGrad();
  const b = a.exp(), c = a.mul(3);
  b.mul(c).add(b).sum().backward(); // d/da (3a·eᵃ + eᵃ) = 3eᵃ + 3a·eᵃ + eᵃ
  assertClose(a.grad!, [0.3, -0.7].map((v) => 4 * Math.exp(v) + 3 * v * Math.exp(v)), { atol: 1e-14 });
});

test('backward on a non-scalar needs a gradient; with one it is a vector-Jacobian product', () => {
  const x = f64([1, 2, 3]).requireGrad();
  const y = x.square();
  assert.throws(() => y.backward(), /without a gradient needs a scalar, got Tensor\(float64, \[3\]\)/);
  assert.throws(() => y.backward(f64([1, 0])), /gradient of shape \[2\] for Tensor\(float64, \[3\]\)/);
  y.backward(f64([1, 0, -1]));
  assert.deepEqual(x.grad!.toList(), [2, 0, -6]);
});

test('retainGraph: a second pass accumulates; without it the second pass throws', () => {
  const x = f64([1, 2]).requireGrad();
  const loss = x.square().sum();
  loss.backward(undefined, { retainGraph: true });
  loss.backward();
  assert.deepEqual(x.grad!.toList(), [4, 8]);
  assert.throws(() => loss.backward(), /a second time/);
});

test('leaf gradients have the leaf shape, also through broadcasting and expanded views', () => {
  const b = randomTensor([1, 3], { seed: 2 }).requireGrad();
  const w = randomTensor([4, 1], { seed: 3, layout: 'contiguous' }).requireGrad();
  b.add(w).sum().backward();
  assert.deepEqual([...b.grad!.shape], [1, 3]);
  assert.deepEqual(b.grad!.toList(), [4, 4, 4]);
  assert.deepEqual(w.grad!.toList(), [3, 3, 3, 3]);
});
