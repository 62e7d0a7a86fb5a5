// The KV cache's shared growable buffer: appends write in place, and older or forked caches keep their values.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { concat, randn, Rng, slice, type Tensor } from '../../tensor/index.ts';
import { appendKV, type LayerKV } from './cache.ts';

const kv = (T: number, rng: Rng): [Tensor, Tensor] => [randn([2, 3, T, 4], { rng }), randn([2, 3, T, 4], { rng })];
const cat = (xs: Tensor[]) => concat(xs, 2).toList();

test('appends in place, forks copy, and every cache keeps its values through growth', () => {
  const rng = new Rng(5);
  const [k1, v1] = kv(3, rng), [k2, v2] = kv(2, rng), [k3, v3] = kv(1, rng);
  const past = appendKV(null, k1, v1);
  const a = appendKV(past, k2, v2); // the newest cache of its buffer: written in place
  const b = appendKV(past, k3, v3); // a fork of an older cache: must not overwrite a's rows
  assert.equal(a.k.storage, past.k.storage);
  assert.notEqual(b.k.storage, past.k.storage);
  assert.deepEqual(past.k.toList(), k1.toList());
  assert.deepEqual(a.k.toList(), cat([k1, k2]));
  assert.deepEqual(a.v.toList(), cat([v1, v2]));
  assert.deepEqual(b.k.toList(), cat([k1, k3]));
  // 70 one-row steps outgrow the first buffer (64 rows) twice
  let c: LayerKV = a;
  const ks = [k1, k2];
  for (let i = 0; i < 70; i++) {
    const [k, v] = kv(1, rng);
    c = appendKV(c, k, v);
    ks.push(k);
  }
  assert.deepEqual(c.k.shape, [2, 3, 75, 4]);
  assert.deepEqual(c.k.toList(), cat(ks));
  assert.deepEqual(a.k.toList(), cat([k1, k2]));
  // a slice of the newest cache (one batch row) is not the buffer's own view: appending to it copies
  const row1 = { k: slice(c.k, 0, 1, 2), v: slice(c.v, 0, 1, 2) };
  const [k1b, v1b] = [randn([1, 3, 1, 4], { rng }), randn([1, 3, 1, 4], { rng })];
  const e = appendKV(row1, k1b, v1b);
  assert.notEqual(e.k.storage, c.k.storage);
  assert.deepEqual(e.k.toList(), concat([slice(c.k, 0, 1, 2), k1b], 2).toList());
  assert.deepEqual(c.k.toList(), cat(ks)); // row 0 untouched
  // a detached cache (as carried between steps) continues the same buffer
  const d = appendKV({ k: c.k.detach(), v: c.v.detach() }, ...kv(1, rng));
  assert.equal(d.k.storage, c.k.storage);
});

test('with gradients the cache is the autograd graph: keys and values pass through unchanged, appends concat', () => {
  const rng = new Rng(6);
  const [k, v] = kv(3, rng);
  k.requireGrad();
  const first = appendKV(null, k, v);
  assert.equal(first.k, k); // no copy into a buffer, which would cut the gradient
  const [k2, v2] = kv(1, rng);
  const next = appendKV(first, k2, v2);
  next.k.sum().backward();
  assert.deepEqual([...k.grad!.toFloat32Array()], new Array(k.size).fill(1));
});
