// The basic layers' forward passes against values worked by hand, with torch's parameter names/shapes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Conv1d, Conv2d, Embedding, LayerNorm, Linear, RMSNorm } from './layers.ts';
import type { Parameter } from './module.ts';
import { tensor } from '../tensor/index.ts';

function set(p: Parameter | null, values: number[]): void {
  assert.ok(p, 'parameter exists');
  assert.equal(values.length, p.size);
  (p.storage as Float32Array).set(values);
}

function close(got: readonly number[], want: readonly number[], tol = 1e-6): void {
  assert.equal(got.length, want.length);
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]!) <= tol, `[${i}] ${g} vs ${want[i]}`));
}

test('Linear: y = x·Wᵀ + b with W [out, in]', () => {
  const l = new Linear(2, 3);
  assert.deepEqual(l.weight.shape, [3, 2]);
  set(l.weight, [1, 2, 3, 4, 5, 6]);
  set(l.bias, [0.5, -1, 0]);
  const y = l.forward(tensor([[1, -1], [2, 0]]));
  assert.deepEqual(y.shape, [2, 3]);
  close(y.toList(), [-0.5, -2, -1, 2.5, 5, 10]);
  const nb = new Linear(2, 1, { bias: false });
  assert.equal(nb.bias, null);
  assert.deepEqual([...nb.namedParameters()].map(([n]) => n), ['weight']);
});

test('Linear backward: dW = gᵀ·x laid out like W (contiguous, no copy for the optimiser), dx = g·W, db = Σ g', () => {
  const l = new Linear(2, 3);
  set(l.weight, [1, 2, 3, 4, 5, 6]);
  set(l.bias, [0, 0, 0]);
  const x = tensor([[[1, -1], [2, 0]]]).requireGrad(); // [1, 2, 2]: leading dims are flattened
  const g = tensor([[[1, 0, 2], [-1, 3, 1]]]);
  l.forward(x).mul(g).sum().backward();
  const dw = l.weight.grad!;
  assert.ok(dw.isContiguous, `weight grad strides [${dw.strides.join(', ')}]`);
  close(dw.toList(), [1 - 2, -1, 6, 0, 2 + 2, -2]);
  close(x.grad!.toList(), [1 + 10, 2 + 12, -1 + 9 + 5, -2 + 12 + 6]);
  close(l.bias!.grad!.toList(), [0, 3, 3]);
});

test('LayerNorm: (x − mean)/sqrt(var + eps)·w + b over the last dim, biased variance', () => {
  const ln = new LayerNorm(4);
  set(ln.weight, [1, 2, 1, 1]);
  set(ln.bias, [0, 0, 1, 0]);
  const r = 1 / Math.sqrt(1.25 + 1e-5);
  close(ln.forward(tensor([[1, 2, 3, 4]])).toList(), [-1.5 * r, -0.5 * r * 2, 0.5 * r + 1, 1.5 * r]);
  const plain = new LayerNorm(2, 1e-5, false);
  assert.equal(plain.weight, null);
  close(plain.forward(tensor([5, 7])).toList(), [-1 / Math.sqrt(1 + 1e-5), 1 / Math.sqrt(1 + 1e-5)]);
});

test('RMSNorm: x / sqrt(mean(x²) + eps)·w', () => {
  const n = new RMSNorm(2, 1e-6);
  set(n.weight, [1, 0.5]);
  const r = 1 / Math.sqrt(12.5 + 1e-6);
  close(n.forward(tensor([[3, 4], [0, 0]])).toList(), [3 * r, 2 * r, 0, 0]);
});

test('Embedding: rows by id; the padding row is zero and gets no gradient', () => {
  const e = new Embedding(4, 2, 0);
  assert.deepEqual(e.weight.toList().slice(0, 2), [0, 0]);
  set(e.weight, [0, 0, 1, 2, 3, 4, 5, 6]);
  const y = e.forward(tensor([[3, 0], [1, 1]], { dtype: 'int32' }));
  assert.deepEqual(y.shape, [2, 2, 2]);
  assert.deepEqual(y.toList(), [5, 6, 0, 0, 1, 2, 1, 2]);
  y.sum().backward();
  assert.deepEqual(e.weight.grad!.toList(), [0, 0, 2, 2, 0, 0, 1, 1]);
  assert.throws(() => e.forward(tensor([4], { dtype: 'int32' })), /id 4 out of range \[0, 4\)/);
});

test('Conv1d: stride and padding as torch (cross-correlation)', () => {
  const c = new Conv1d(1, 1, 2);
  assert.deepEqual(c.weight.shape, [1, 1, 2]);
  set(c.weight, [1, -1]);
  set(c.bias, [0.5]);
  close(c.forward(tensor([1, 3, 6, 10], { shape: [1, 1, 4] })).toList(), [-1.5, -2.5, -3.5]);
  const s = new Conv1d(1, 1, 2, { stride: 2, padding: 1 });
  set(s.weight, [1, -1]);
  set(s.bias, [0.5]);
  // padded input [0, 1, 3, 6, 10, 0], windows at 0, 2, 4
  close(s.forward(tensor([1, 3, 6, 10], { shape: [1, 1, 4] })).toList(), [-0.5, -2.5, 10.5]);
});

test('Conv2d: window sums over channels, output [B, Cout, oh, ow]', () => {
  const c = new Conv2d(1, 1, 2);
  set(c.weight, [1, 0, 0, -1]);
  set(c.bias, [1]);
  const y = c.forward(tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], { shape: [1, 1, 3, 3] }));
  assert.deepEqual(y.shape, [1, 1, 2, 2]);
  close(y.toList(), [-3, -3, -3, -3]);
  const mix = new Conv2d(2, 2, 1, { bias: false });
  set(mix.weight, [2, 3, 1, -1]); // out0 = 2·c0 + 3·c1, out1 = c0 − c1
  const x = tensor([1, 1, 1, 1, 10, 10, 10, 10], { shape: [1, 2, 2, 2] });
  close(mix.forward(x).toList(), [32, 32, 32, 32, -9, -9, -9, -9]);
  const strided = new Conv2d(1, 1, 3, { stride: 2, padding: 1, bias: false });
  set(strided.weight, [0, 0, 0, 0, 1, 0, 0, 0, 0]); // identity tap: picks x at the stride grid
  close(strided.forward(tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], { shape: [1, 1, 3, 3] })).toList(), [1, 3, 7, 9]);
});
