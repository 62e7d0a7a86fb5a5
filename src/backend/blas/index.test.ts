// The blas path against the reference backend: matmul on odd shapes, size-1 dims, all transposes,
// broadcast batches and views, forward and backward; on a 2-thread wasm base, products split across the worker
// pool by matrices, rows and columns. Skips (with the reason) where no CBLAS is installed.

import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { blasBackend, loadCblas } from './index.ts';
import { referenceBackend } from '../reference/index.ts';
import { createWasmBackend } from '../wasm/index.ts';
import { withBackend } from '../registry.ts';
import { matmul, randn, Rng, scaledDotProductAttention, type Tensor } from '../../tensor/index.ts';

let skip: string | false = false;
try { loadCblas(); } catch (e) { skip = (e as Error).message; }

// each CBLAS installed here, so a machine with both (CI installs both) tests both paths, not only the preferred one
const libraries = ['libopenblas.so.0', 'libmkl_rt.so'].filter((name) => {
  try { return loadCblas(name).library === name; } catch { return false; }
});

function maxDiff(a: Tensor, b: Tensor): number {
  const x = a.toFloat64(), y = b.toFloat64();
  assert.deepEqual(a.shape, b.shape);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

for (const library of libraries) test(`${library}: blas matmul equals the reference on odd shapes, transposes and batches`, async () => {
  const blas = await blasBackend(referenceBackend, 2, library);
  assert.match(blas.detail ?? '', new RegExp(`GEMM: ${library}`));
  const rng = new Rng(7);
  const cases: [number[], number[], (t: Tensor) => Tensor, (t: Tensor) => Tensor][] = [];
  const id = (t: Tensor) => t, tr = (t: Tensor) => t.transpose();
  for (const [M, K, N] of [[1, 1, 1], [1, 7, 1], [5, 3, 9], [17, 33, 1], [64, 65, 63], [2, 128, 3]]) {
    cases.push([[M, K], [K, N], id, id]);
    cases.push([[K, M], [K, N], tr, id]);
    cases.push([[M, K], [N, K], id, tr]);
    cases.push([[K, M], [N, K], tr, tr]);
    cases.push([[3, M, K], [K, N], id, id]);
    cases.push([[2, 1, M, K], [3, K, N], id, id]);
  }
  for (const [sa, sb, fa, fb] of cases) {
    const a = fa(randn(sa, { rng })), b = fb(randn(sb, { rng }));
    const ref = matmul(a, b);
    const got = withBackend(blas, () => matmul(a, b));
    const K = a.shape[a.ndim - 1]!;
    assert.ok(maxDiff(ref, got) <= 1e-5 * Math.sqrt(K) * 4, `${sa} x ${sb}: ${maxDiff(ref, got)}`);
  }
});

test('on an Intel CPU, a backend on OpenBLAS says that MKL would be faster; elsewhere it does not', { skip: libraries.includes('libopenblas.so.0') ? false : 'no OpenBLAS here' }, async () => {
  const intel = /^vendor_id\s*:\s*GenuineIntel/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  const detail = (await blasBackend(referenceBackend, 1, 'libopenblas.so.0')).detail ?? '';
  assert.equal(/libmkl_rt\.so .*is faster on this Intel CPU/.test(detail), intel && !process.env.TESSERA_BLAS_LIB, detail);
});

test('blas matmul handles views it cannot pass to sgemm (sliced with a step) by falling back', { skip }, async () => {
  const blas = await blasBackend(referenceBackend, 1);
  const a = randn([8, 10]).slice(1, 0, 10, 2); // column stride 2: not a gemm layout
  const b = randn([5, 3]);
  assert.ok(maxDiff(matmul(a, b), withBackend(blas, () => matmul(a, b))) < 1e-5);
});

test('gradients through blas matmul equal the reference', { skip }, async () => {
  const blas = await blasBackend(referenceBackend, 2);
  const run = (useBlas: boolean) => {
    const rng = new Rng(3);
    const x = randn([4, 6, 5], { rng }).requireGrad(), w = randn([7, 5], { rng }).requireGrad();
    const f = () => matmul(x, w.T).relu().sum().backward();
    if (useBlas) withBackend(blas, f); else f();
    return [x.grad!, w.grad!];
  };
  const [rx, rw] = run(false), [bx, bw] = run(true);
  assert.ok(maxDiff(rx!, bx!) < 1e-4);
  assert.ok(maxDiff(rw!, bw!) < 1e-4);
});

for (const library of libraries) test(`${library}: on a 2-thread wasm base, products split across the worker pool equal the reference`, async () => {
  const wasm = await createWasmBackend(2);
  try {
    const blas = await blasBackend(wasm, 2, library);
    assert.match(blas.detail ?? '', /split over the 2 wasm workers/);
    const rng = new Rng(11);
    const id = (t: Tensor) => t, tr = (t: Tensor) => t.transpose();
    // [a shape, b shape]: row split (M ≥ N), column split (N > M), K split (K long: partial products added), whole
    // matrices per chunk (batch ≥ 2, also more matrices than threads), a broadcast batch, and a product small
    // enough for the calling thread
    const shapes: [number[], number[]][] = [[[203, 96], [96, 150]], [[9, 256], [256, 515]], [[40, 700], [700, 50]], [[3, 70, 90], [90, 81]],
      [[9, 100, 128], [128, 90]], [[2, 1, 64, 80], [3, 80, 72]], [[5, 6], [6, 7]]];
    for (const [sa, sb] of shapes) {
      for (const [fa, fb] of [[id, id], [tr, id], [id, tr], [tr, tr]] as const) {
        const swap = (s: number[], f: typeof id) => (f === tr ? [...s.slice(0, -2), s[s.length - 1]!, s[s.length - 2]!] : s);
        const a = fa(randn(swap(sa, fa), { rng })), b = fb(randn(swap(sb, fb), { rng }));
        const ref = matmul(a, b);
        // inputs copied into the wasm heap, as every tensor of a training step is
        const got = withBackend(blas, () => {
          const ah = fa(fa(a).contiguous().mul(1)), bh = fb(fb(b).contiguous().mul(1));
          return matmul(ah, bh);
        });
        const K = a.shape[a.ndim - 1]!;
        assert.ok(maxDiff(ref, got) <= 1e-5 * Math.sqrt(K) * 4, `${sa} x ${sb} (${fa === tr ? 'T' : 'N'}${fb === tr ? 'T' : 'N'}): ${maxDiff(ref, got)}`);
      }
    }
  } finally {
    await wasm.runtime.close();
  }
});

// Byte offsets past 2 GiB are still valid wasm32 addresses; pool-ops.mjs once turned them into element offsets with
// a signed shift (negative, so sgemm read from the top of the heap): once a process's heap outgrew 2 GiB (an
// evaluation pass that never yields to the finalizers), attention gave garbage without an error.
for (const library of libraries) test(`${library}: operands past 2 GiB of the wasm heap give the reference's attention and products`, async () => {
  const wasm = await createWasmBackend(2);
  try {
    const blas = await blasBackend(wasm, 2, library);
    const rng = new Rng(17);
    const q0 = randn([2, 4, 70, 8], { rng }), k0 = randn([2, 2, 70, 8], { rng }), v0 = randn([2, 2, 70, 8], { rng });
    const a0 = randn([40, 700], { rng }), b0 = randn([700, 50], { rng }); // K long: split along K, partials added
    const run = (inHeap: boolean) => {
      const leaf = (t: Tensor) => (inHeap ? t.mul(1).detach() : t.clone()).requireGrad();
      const [q, k, v, a, b] = [q0, k0, v0, a0, b0].map(leaf) as [Tensor, Tensor, Tensor, Tensor, Tensor];
      if (inHeap) for (const t of [q, k, v, a, b]) assert.ok((t.storage as Float32Array).byteOffset >= 2 ** 31, 'a leaf below 2 GiB: the test tests nothing');
      const o = scaledDotProductAttention(q, k, v, { causal: true }), p = matmul(a, b);
      o.square().sum().add(p.square().sum()).backward();
      return [o, p, q.grad!, k.grad!, v.grad!, a.grad!, b.grad!];
    };
    const ref = run(false);
    // a block never written, so what is allocated after it lies past 2 GiB (the OS maps its pages only when touched)
    const ballast = wasm.runtime.heap.alloc(2 ** 29);
    try {
      const got = withBackend(blas, () => run(true));
      ref.forEach((r, i) => assert.ok(maxDiff(r, got[i]!) < 2e-3 * Math.max(1, ...r.toFloat64().map(Math.abs)), `output ${i}: ${maxDiff(r, got[i]!)}`));
    } finally {
      wasm.runtime.heap.free(ballast.ptr);
    }
  } finally {
    await wasm.runtime.close();
  }
});
