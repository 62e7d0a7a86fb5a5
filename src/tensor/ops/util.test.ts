// Outputs allocated without a zero fill (`allocOut`) must be written in full by their kernel or loop. Each op
// runs forward and backward twice, on the reference backend and on one whose uninitialised storage is full of
// NaN (or garbage ints), and every output and gradient must agree bit for bit.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../backend/backend.ts';
import { withBackend } from '../../backend/registry.ts';
import { referenceBackend } from '../../backend/reference/index.ts';
import { allocStorage, type DType, type StorageOf } from '../dtype.ts';
import * as T from '../index.ts';
import type { Tensor } from '../index.ts';

const poisoned: Backend = {
  ...referenceBackend,
  name: 'poisoned',
  allocUninit<D extends DType>(dtype: D, n: number): StorageOf[D] {
    const s = allocStorage(dtype, n);
    if (dtype === 'int64') (s as BigInt64Array).fill(0x5a5a5a5an);
    else if (dtype === 'float32' || dtype === 'float64') (s as Float32Array).fill(NaN);
    else (s as Uint8Array).fill(0x5a);
    return s;
  },
};

/** Values of a few fixed tensors, so both runs see the same inputs. */
const data = (shape: number[], seed: number): Float32Array => T.randn(shape, { rng: new T.Rng(seed) }).toFloat32Array();

interface Case { name: string; run: (x: Tensor, y: Tensor) => Tensor }
const ids = (vals: number[], shape: number[]) => T.tensor(vals, { shape, dtype: 'int32' });

const CASES: Case[] = [
  { name: 'matmul (transposed, batched)', run: (x, y) => T.matmul(x.reshape([2, 3, 4]), y.reshape([2, 3, 4]).transpose(1, 2)) },
  { name: 'linear + bias', run: (x, y) => T.linear(x.reshape([6, 4]), y.reshape([6, 4]), x.reshape([24]).slice(0, 0, 6)) },
  { name: 'unary', run: (x, y) => T.add(T.tanh(x), T.mul(T.exp(y), T.neg(T.sigmoid(x)))) },
  { name: 'binary broadcast', run: (x, y) => T.div(T.maximum(x, y.slice(0, 0, 1)), T.add(T.abs(y.transpose(0, 1).slice(0, 0, 1).T), 1)) },
  { name: 'where / maskedFill / compare', run: (x, y) => T.maskedFill(T.where(T.compareOp('gt', x, y), x, y), T.compareOp('lt', y, -1), 0.5) },
  { name: 'cast', run: (x) => T.add(T.cast(T.cast(x, 'float64'), 'float32'), T.cast(T.cast(x, 'float16'), 'float32').detach()) },
  { name: 'reductions', run: (x, y) => T.add(T.sum(x, 1, true), T.mul(T.max(y, 0), T.mean(x, [0, 1]))) },
  { name: 'softmax / logSoftmax', run: (x, y) => T.add(T.softmax(x, 0), T.logSoftmax(y.transpose(0, 1), -1).transpose(0, 1)) },
  { name: 'layerNorm / rmsNorm', run: (x, y) => T.add(T.layerNorm(x, y.slice(0, 0, 1).reshape([4]), null), T.rmsNorm(y, x.slice(0, 1, 2).reshape([4]))) },
  { name: 'attention (bthd, mask)', run: (x, y) => {
    const q = x.reshape([1, 3, 2, 4]).transpose(1, 2), k = y.reshape([1, 3, 2, 4]).transpose(1, 2);
    const mask = T.tensor([1, 1, 0], { shape: [1, 1, 1, 3], dtype: 'bool' });
    return T.add(T.scaledDotProductAttention(q, k, k, { causal: true }), T.scaledDotProductAttention(q, k, q, { mask }));
  } },
  { name: 'crossEntropy', run: (x, y) => T.add(T.crossEntropy(x, ids([1, 3, 0, 2, -100, 1], [6])),
    T.crossEntropy(y, ids([0, 0, 3, -100, 2, 1], [6]), { reduction: 'none' }).sum()) },
  { name: 'embedding', run: (x) => T.embedding(x, ids([0, 5, 2, 2, 5, 1], [2, 3]), 2) },
  { name: 'swiglu / rope', run: (x, y) => {
    const cos = T.cos(T.arange(6)).reshape([3, 2]), sin = T.sin(T.arange(6)).reshape([3, 2]);
    return T.add(T.swiglu(x, y), T.rope(x.reshape([1, 3, 2, 4]), cos, sin).reshape([6, 4]));
  } },
  { name: 'concat / pad / slice', run: (x, y) => T.concat([T.pad(x.slice(0, 1, 5), [1, 0, 0, 1]), T.pad(y.T, [0, 1], 2).slice(1, 0, 5)], 0) },
  { name: 'gather / indexSelect / contiguous', run: (x, y) => T.add(T.gather(x, 1, ids([0, 3, 1, 2, 2, 0, 3, 3, 1, 0, 0, 1], [6, 2])),
    T.indexSelect(y.T.contiguous(), 0, ids([3, 0], [2])).T.slice(0, 0, 6).contiguous()) },
  { name: 'conv1d / avgPool1d', run: (x, y) => T.avgPool1d(T.conv1d(x.reshape([2, 3, 4]), y.reshape([2, 3, 4]).slice(2, 0, 2), null, { padding: 1 }), 2) },
];

function runOn(b: Backend, c: Case): Float32Array[] {
  return withBackend(b, () => {
    const x = T.tensor(data([6, 4], 1), { shape: [6, 4] }).requireGrad();
    const y = T.tensor(data([6, 4], 2), { shape: [6, 4] }).requireGrad();
    const out = c.run(x, y);
    const w = T.tensor(data([out.size], 3), { shape: out.shape });
    T.sum(T.mul(out, w)).backward();
    return [out.toFloat32Array(), x.grad?.toFloat32Array() ?? new Float32Array(0), y.grad?.toFloat32Array() ?? new Float32Array(0)];
  });
}

for (const c of CASES) {
  test(`${c.name}: the same bits when fresh storage is full of NaN`, () => {
    const want = runOn(referenceBackend, c), got = runOn(poisoned, c);
    assert.ok(want[0]!.every((v) => Number.isFinite(v)), 'the reference output is finite');
    ['output', 'grad x', 'grad y'].forEach((what, i) => assert.deepEqual(got[i], want[i], `${c.name}: ${what}`));
  });
}

test('creation ops fill what they allocate', () => {
  const make = () => [T.tensor([1, 2, 3]), T.randn([5], { rng: new T.Rng(4) }), T.rand([5], { rng: new T.Rng(5) }),
    T.tensor([4, 5], { dtype: 'int64' }), T.zeros([3]), T.full([2], 7)].map((t) => t.toList());
  assert.deepEqual(withBackend(poisoned, make), withBackend(referenceBackend, make));
});
