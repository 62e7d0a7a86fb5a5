// View ops share storage instead of copying where the layout allows (reshape of contiguous data, permute,
// transpose, slice with a step, expand, squeeze/unsqueeze, detach), give the right values, and
// contiguous()/reshape copy only when they must.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from './index.ts';
import { at, randomTensor } from './testing.ts';

const base = () => T.arange(0, 24, 1, 'float64').reshape([2, 3, 4]);

test('reshape of contiguous data is a view; of a transposed view it copies', () => {
  const x = base();
  const y = x.reshape([6, 4]);
  assert.equal(y.storage, x.storage);
  assert.deepEqual(y.toList(), x.toList());
  const t = x.transpose(1, 2); // [2, 4, 3]
  assert.equal(t.isContiguous, false);
  const r = t.reshape([8, 3]);
  assert.notEqual(r.storage, x.storage);
  assert.deepEqual(r.toList().slice(0, 6), [0, 4, 8, 1, 5, 9]);
  assert.equal(x.reshape([2, -1]).shape[1], 12);
  assert.equal(x.slice(0, 1, 2).reshape([12]).storage, x.storage, 'a contiguous slice reshapes without a copy');
  assert.deepEqual(x.slice(0, 1, 2).reshape([12]).toList(), Array.from({ length: 12 }, (_, i) => 12 + i));
});

test('permute, transpose, slice with step, expand, squeeze, unsqueeze share storage with the right values', () => {
  const x = base();
  const p = x.permute(2, 0, 1);
  assert.equal(p.storage, x.storage);
  assert.deepEqual([...p.shape], [4, 2, 3]);
  assert.equal(at(p, [3, 1, 2]), at(x, [1, 2, 3]));
  const s = x.slice(2, 1, 4, 2);
  assert.equal(s.storage, x.storage);
  assert.deepEqual(s.toList(), [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23]);
  assert.deepEqual(x.slice(1, -1).toList(), [8, 9, 10, 11, 20, 21, 22, 23]);
  assert.deepEqual(x.slice(1, 5, 9).shape, [2, 0, 4], 'an empty slice past the end');
  const e = T.arange(0, 3, 1, 'float64').reshape([3, 1]).expand([2, 3, 4]);
  assert.deepEqual([...e.strides], [0, 1, 0]);
  assert.equal(e.toList().filter((v) => v === 2).length, 8);
  const u = x.unsqueeze(1);
  assert.equal(u.storage, x.storage);
  assert.deepEqual([...u.shape], [2, 1, 3, 4]);
  assert.equal(u.squeeze(1).storage, x.storage);
  assert.deepEqual([...T.zeros([1, 3, 1]).squeeze().shape], [3]);
  assert.deepEqual([...T.zeros([1, 3, 1]).squeeze(1).shape], [1, 3, 1], 'squeezing a non-1 dim keeps it');
  const d = x.detach();
  assert.equal(d.storage, x.storage);
});

test('contiguous() returns the tensor itself when already contiguous and copies otherwise', () => {
  const x = base();
  assert.equal(x.contiguous(), x);
  const rows = x.slice(0, 1, 2);
  assert.equal(rows.contiguous(), rows, 'a contiguous slice at an offset is kept');
  const t = x.transpose(0, 2);
  const c = t.contiguous();
  assert.notEqual(c.storage, x.storage);
  assert.equal(c.isContiguous, true);
  assert.deepEqual(c.toList(), t.toList());
  const v = randomTensor([3, 4], { layout: 'expanded', seed: 1 });
  assert.equal(v.isContiguous, false);
  assert.deepEqual(v.contiguous().toList(), v.toList());
  const cl = x.clone();
  assert.notEqual(cl.storage, x.storage);
  assert.deepEqual(cl.toList(), x.toList());
});

test('values written through the shared storage are seen by every view', () => {
  const x = base();
  const v = x.permute(1, 0, 2).slice(2, 0, 4, 3);
  (x.storage as Float64Array)[23] = -1;
  assert.equal(at(v, [2, 1, 1]), -1);
  assert.deepEqual([...v.toArray()].slice(-1), [-1]);
});
