// clipGradNorm against a hand computation: the global L2 norm over every gradient, scaling by
// maxNorm/(norm + 1e-6) only above maxNorm, params without grad ignored.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clipCoefficient, clipGradNorm, gradNorm } from './clip.ts';
import { Parameter } from '../nn/module.ts';
import { tensor, transpose } from '../tensor/index.ts';

const param = (v: number[], shape?: number[]): Parameter => new Parameter(tensor(v, { dtype: 'float64', ...(shape ? { shape } : {}) }));

test('above maxNorm: returns the total norm and scales every grad by maxNorm/(norm+1e-6)', () => {
  const a = param([0, 0]), b = param([0]), c = param([7]);
  a.grad = tensor([3, 0], { dtype: 'float64' });
  b.grad = tensor([4], { dtype: 'float64' });
  // c has no grad and must not count
  const norm = clipGradNorm([a, b, c], 1);
  assert.equal(norm, 5);
  const k = 1 / (5 + 1e-6);
  assert.deepEqual(a.grad.toList(), [3 * k, 0]);
  assert.deepEqual(b.grad.toList(), [4 * k]);
  assert.equal(c.grad, null);
});

test('the norm counts every element of grads of any length (the sum runs four elements at a time, then the rest)', () => {
  for (const n of [1, 3, 4, 5, 7, 8, 9, 33]) {
    const v = Array.from({ length: n }, (_, i) => (i % 2 ? -1 : 1) * (i + 1));
    const a = param(new Array(n).fill(0)), b = param([0, 0, 0]);
    a.grad = tensor(v, { dtype: 'float64' });
    b.grad = tensor([2, 0, -2], { dtype: 'float64' });
    assert.ok(Math.abs(clipGradNorm([a, b], 1e9) - Math.hypot(...v, 2, -2)) < 1e-9, `length ${n}`);
  }
});

test('at or below maxNorm the grads are left as they are', () => {
  const a = param([0, 0]);
  const g = tensor([0.6, 0.8], { dtype: 'float64' });
  a.grad = g;
  assert.equal(clipGradNorm([['a', a]], 1), 1);
  assert.equal(a.grad, g);
});

test('a strided grad and a grad shared by two params are each scaled once', () => {
  const a = param([0, 0, 0, 0], [2, 2]), b = param([0, 0, 0, 0], [2, 2]);
  const shared = transpose(tensor([1, 2, 3, 4], { dtype: 'float64', shape: [2, 2] }), 0, 1);
  a.grad = shared;
  b.grad = shared;
  const norm = clipGradNorm([a, b], 2);
  assert.ok(Math.abs(norm - Math.sqrt(2 * 30)) < 1e-12);
  const k = 2 / (norm + 1e-6);
  assert.deepEqual(a.grad.toList(), [1 * k, 3 * k, 2 * k, 4 * k]);
  assert.deepEqual(b.grad.toList(), a.grad.toList());
});

test('a non-finite norm is returned and the grads stay; a bad maxNorm is refused', () => {
  const a = param([0, 0]);
  a.grad = tensor([NaN, 1], { dtype: 'float64' });
  assert.ok(Number.isNaN(clipGradNorm([a], 1)));
  assert.equal(a.grad.toList()[1], 1);
  assert.throws(() => clipGradNorm([a], 0), /maxNorm must be positive/);
});

test('gradNorm and clipCoefficient: the norm and the factor clipGradNorm scales by, gradients untouched', () => {
  const a = param([0, 0]), b = param([0]), c = param([7]);
  a.grad = tensor([3, 0], { dtype: 'float64' });
  b.grad = tensor([4], { dtype: 'float64' });
  assert.equal(gradNorm([a, b, c]), 5);
  assert.deepEqual(a.grad.toList(), [3, 0]);
  assert.equal(clipCoefficient(5, 1), 1 / (5 + 1e-6));
  assert.equal(clipCoefficient(5, 5), 1);
  assert.equal(clipCoefficient(NaN, 1), 1);
  assert.throws(() => clipCoefficient(5, 0), /maxNorm must be positive/);
});
