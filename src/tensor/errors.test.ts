// Bad shapes give an Error that names the shapes involved (matmul, broadcasting, concat, reshape, the
// fused ops) and bad ids name the id, instead of a crash or a silently wrong value.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from './index.ts';

const z = (...shape: number[]) => T.zeros(shape, 'float64');
const ids = (v: number[]) => T.tensor(v, { dtype: 'int32' });

test('matmul shape mismatches name both shapes', () => {
  assert.throws(() => T.matmul(z(2, 3), z(4, 5)), /matmul: shapes \[2, 3\] and \[4, 5\] do not align/);
  assert.throws(() => T.matmul(z(2, 2, 3), z(3, 3, 1)), /shapes \[2\] and \[3\] do not broadcast/);
  assert.throws(() => T.matmul(z(3), z(4)), /\[3\] and \[4\]/);
  assert.throws(() => T.matmul(z(2, 2), T.zeros([2, 2])), /dtype mismatch float64 vs float32/);
  assert.throws(() => T.linear(z(2, 3), z(4, 5)), /linear: input \[2, 3\] does not end in 5 \(weight \[4, 5\]\)/);
});

test('broadcasting mismatches name both shapes and the dim', () => {
  assert.throws(() => T.add(z(2, 3), z(4)), /shapes \[2, 3\] and \[4\] do not broadcast \(dim 1: 3 vs 4\)/);
  assert.throws(() => T.where(T.zeros([2], 'bool'), z(3), z(3)), /\[2\] and \[3\]/);
  assert.throws(() => z(2, 3).expand([4, 3]), /cannot broadcast \[2, 3\] to \[4, 3\]/);
});

test('concat, split, reshape and pad errors name the shapes', () => {
  assert.throws(() => T.concat([z(2, 3), z(2, 4)], 0), /Tensor\(float64, \[2, 4\]\) does not match Tensor\(float64, \[2, 3\]\) outside axis 0/);
  assert.throws(() => T.concat([], 0), /no tensors/);
  assert.throws(() => T.split(z(5), [2, 2]), /sizes \[2, 2\] do not add up to 5/);
  assert.throws(() => z(2, 3).reshape([4, 2]), /cannot reshape \[2, 3\] \(6 elements\) to \[4, 2\]/);
  assert.throws(() => z(2, 3).permute(0), /1 dims given for a 2-d tensor/);
  assert.throws(() => z(2, 3).sum(2), /axis 2 out of range for 2 dims/);
  assert.throws(() => T.pad(z(2), [1, 1, 1, 1]), /bad padding/);
});

test('fused ops name what does not fit', () => {
  assert.throws(() => T.layerNorm(z(2, 3), z(4), null), /layerNorm weight has shape \[4\], expected \[3\]/);
  assert.throws(() => T.rmsNorm(z(2, 3), z(2)), /rmsNorm weight has shape \[2\], expected \[3\]/);
  assert.throws(() => T.scaledDotProductAttention(z(1, 3, 2, 4), z(1, 2, 2, 4), z(1, 2, 2, 4)), /q \[1, 3, 2, 4\], k \[1, 2, 2, 4\]/);
  assert.throws(() => T.scaledDotProductAttention(z(1, 1, 2, 4), z(1, 1, 3, 4), z(1, 1, 3, 4), { mask: T.zeros([2, 2], 'bool') }),
    /mask \[2, 2\] does not broadcast to \[1, 1, 2, 3\]/);
  assert.throws(() => T.conv2d(z(1, 2, 4, 4), z(3, 1, 3, 3)), /input \[1, 2, 4, 4\] and weight \[3, 1, 3, 3\] do not fit/);
  assert.throws(() => T.conv1d(z(1, 1, 2), z(1, 1, 3)), /kernel 3 larger than padded input 2/);
  assert.throws(() => T.crossEntropy(z(2, 3), ids([0, 1, 2])), /3 targets for 2 rows of logits \[2, 3\]/);
  assert.throws(() => T.crossEntropy(z(2, 3), ids([0, 3])), /target 3 out of range \[0, 3\) at row 1/);
  assert.throws(() => T.embedding(z(4, 2), ids([1, 4])), /id 4 out of range \[0, 4\)/);
  assert.throws(() => T.indexSelect(z(3, 2), 0, ids([-1])), /index -1 out of range \[0, 3\)/);
  assert.throws(() => T.gather(z(3, 2), 1, T.tensor([[2]], { dtype: 'int32' })), /index 2 out of range \[0, 2\)/);
  assert.throws(() => T.applyRope(z(1, 3), z(1, 3), z(1, 3)), /head dim 3 is odd/);
});

test('ops that need floats say so', () => {
  assert.throws(() => T.exp(ids([1])), /exp needs a float32 or float64 tensor, got int32/);
  assert.throws(() => T.softmax(ids([1])), /softmax needs a float32 or float64 tensor/);
  assert.throws(() => T.tensor([1, 2, 3], { shape: [2, 2] }), /3 values do not fill shape \[2, 2\]/);
  assert.throws(() => T.scalar(1).item() + T.zeros([2]).item(), /item\(\) needs one element, tensor has shape \[2\]/);
});
