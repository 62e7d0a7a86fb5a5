// The worker pool: jobs run on their own workers over the shared memory, results come back, close() works;
// and it cannot hang silently: a trapping kernel, a terminated worker and a long run of tiny dispatches
// interleaved with event-loop turns and forced GCs all end (in an Error where something broke).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createWasmRuntime } from './runtime.ts';

test('two workers each fill their half of a shared buffer and return values', async () => {
  const rt = await createWasmRuntime({ threads: 2 });
  try {
    const x = rt.heap.alloc(1000);
    x.array.fill(1);
    const out = rt.heap.alloc(1000);
    // each worker scales its own half; the second half is done by worker 1 through the control block
    for (let rep = 0; rep < 50; rep++) {
      rt.pool.run('scale', [[500, x.ptr, 2 + rep, out.ptr], [500, x.ptr + 2000, 3 + rep, out.ptr + 2000]]);
      assert.equal(out.array[0], 2 + rep);
      assert.equal(out.array[999], 3 + rep);
    }
    const sums = rt.pool.run('sumSquares', [[500, out.ptr], [500, out.ptr + 2000]]);
    assert.deepEqual(sums, [500 * 51 * 51, 500 * 52 * 52]);
    assert.throws(() => rt.pool.run('nope', [[]]), /no export 'nope'/);
    assert.throws(() => rt.pool.run('scale', [[], [], []]), /3 jobs for a pool of 2/);
    assert.throws(() => rt.pool.run('scale', [[0, 0, 1, 0], new Array<number>(40).fill(0)]), /too many arguments/);
    // nothing was posted by the refused call: the pool still works
    assert.deepEqual(rt.pool.run('sumSquares', [[1, out.ptr], [1, out.ptr]]), [51 * 51, 51 * 51]);
  } finally {
    await rt.close();
  }
  assert.throws(() => rt.pool.run('scale', [[0, 0, 0, 0]]), /closed/);
});

test('loadOps runs a JS module\'s ops on every thread over the shared memory, and refuses a module without ops', async () => {
  const rt = await createWasmRuntime({ threads: 2, poolTakeBack: false }); // job w on worker w, so each thread is seen
  try {
    const url = new URL('../../../test/fixtures/pool/ops.mjs', import.meta.url).href;
    const loading = rt.pool.loadOps(url, { scale: 3 }, rt.heap.memory);
    // nothing may run while the workers import (it would run out of turn)
    assert.throws(() => rt.pool.run('sumSquares', [[0, 0], [0, 0]]), /'loadOps' is running/);
    await loading;
    await rt.pool.loadOps(url, { scale: 3 }, rt.heap.memory); // a second load of the same module is a no-op
    const x = rt.heap.alloc(100), out = rt.heap.alloc(100);
    for (let i = 0; i < 100; i++) x.array[i] = i;
    assert.deepEqual(rt.pool.run('jsScale', [[50, x.ptr, out.ptr], [50, x.ptr + 200, out.ptr + 200]]), [0, 1]);
    assert.equal(out.array[7], 21);
    assert.equal(out.array[99], 297);
    // wasm exports still run by name beside the JS ops
    assert.deepEqual(rt.pool.run('sumSquares', [[1, out.ptr + 4], [1, out.ptr + 4]]), [9, 9]);
    await assert.rejects(rt.pool.loadOps(new URL('../../../test/fixtures/pool/no-ops.mjs', import.meta.url).href, {}, rt.heap.memory), /exports no 'ops'/);
  } finally {
    await rt.close();
  }
});

test('a module that fails to load on one worker leaves no stale ops behind on the others', async () => {
  const rt = await createWasmRuntime({ threads: 3, poolTakeBack: false });
  try {
    const fixture = (name: string) => new URL(`../../../test/fixtures/pool/${name}`, import.meta.url).href;
    await assert.rejects(rt.pool.loadOps(fixture('fails-on-worker-2.mjs'), {}, rt.heap.memory), /worker 2 could not load .*init refused on worker 2/);
    assert.throws(() => rt.pool.run('stale', [[]]), /no export 'stale'/);
    await rt.pool.loadOps(fixture('ops.mjs'), { scale: 2 }, rt.heap.memory);
    const x = rt.heap.alloc(3), out = rt.heap.alloc(3);
    x.array.set([1, 2, 3]);
    // each thread scales one float and says which thread it is (worker 1 would run `stale` and return -1)
    assert.deepEqual(rt.pool.run('jsScale', [0, 1, 2].map((i) => [1, x.ptr + 4 * i, out.ptr + 4 * i])), [0, 1, 2]);
    assert.deepEqual([...out.array], [2, 4, 6]);
  } finally {
    await rt.close();
  }
});

test('a kernel that traps on a worker or on the calling thread is an Error naming kernel and thread; the pool goes on', async () => {
  const rt = await createWasmRuntime({ threads: 2, poolTimeoutMs: 5000, poolTakeBack: false });
  try {
    const x = rt.heap.alloc(16);
    x.array.fill(2);
    const outOfBounds = 2 ** 32 - 8; // past the end of any wasm32 memory
    assert.throws(() => rt.pool.run('copyBytes', [[x.ptr, x.ptr, 0], [outOfBounds, x.ptr, 64]]),
      /copyBytes failed on worker 1: RuntimeError: memory access out of bounds/);
    assert.throws(() => rt.pool.run('copyBytes', [[outOfBounds, x.ptr, 64], [x.ptr, x.ptr, 0]]),
      /copyBytes failed on the calling thread: RuntimeError: memory access out of bounds/);
    // one job runs on the calling thread alone (no worker posted): same error, and the pool still serves
    assert.throws(() => rt.pool.run('copyBytes', [[outOfBounds, x.ptr, 64]]),
      /copyBytes failed on the calling thread: RuntimeError: memory access out of bounds/);
    assert.deepEqual(rt.pool.run('sumSquares', [[16, x.ptr]]), [64]);
    assert.deepEqual(rt.pool.run('sumSquares', [[16, x.ptr], [4, x.ptr]]), [64, 16]);
  } finally {
    await rt.close();
  }
});

test('a terminated worker makes run() throw instead of hanging', async () => {
  const rt = await createWasmRuntime({ threads: 2, poolTimeoutMs: 1500, poolTakeBack: false });
  try {
    const x = rt.heap.alloc(16);
    x.array.fill(1);
    assert.deepEqual(rt.pool.run('sumSquares', [[16, x.ptr], [16, x.ptr]]), [16, 16]);
    // not awaited: the caller must notice on its own, with no event-loop turn to deliver the 'exit' event
    void rt.pool.worker(1).terminate();
    const t0 = performance.now();
    assert.throws(() => rt.pool.run('sumSquares', [[16, x.ptr], [16, x.ptr]]), /'sumSquares': worker 1 (did not pick it up|died|is not running)/);
    assert.ok(performance.now() - t0 < 20_000);
    // once broken, the pool refuses work at once
    assert.throws(() => rt.pool.run('sumSquares', [[16, x.ptr], [16, x.ptr]]), /unusable.*worker 1/);
    assert.throws(() => rt.pool.run('sumSquares', [[16, x.ptr]]), /unusable/);
  } finally {
    await rt.close();
  }
});

test('a job no worker has taken when the caller is done is run by the caller, once; a taken one by its worker', async () => {
  const rt = await createWasmRuntime({ threads: 3 });
  try {
    await rt.pool.loadOps(new URL('../../../test/fixtures/pool/ops.mjs', import.meta.url).href, { scale: 2 }, rt.heap.memory);
    const x = rt.heap.alloc(3), out = rt.heap.alloc(3);
    x.array.set([1, 2, 3]);
    const ranHere: number[] = [];
    for (let rep = 0; rep < 20; rep++) {
      // the workers fall asleep (their spin is µs), and waking one takes longer than the caller's tiny share
      await new Promise((r) => setTimeout(r, 20));
      out.array.fill(0);
      const who = rt.pool.run('jsScale', [0, 1, 2].map((i) => [1, x.ptr + 4 * i, out.ptr + 4 * i]));
      assert.deepEqual([...out.array], [2, 4, 6], 'every job ran');
      assert.equal(who[0], 0);
      for (const [w, t] of who.entries()) assert.ok(t === 0 || t === w, `job ${w} ran on thread ${t}`);
      ranHere.push(who.filter((t, w) => w > 0 && t === 0).length);
    }
    assert.ok(ranHere.some((n) => n > 0), 'a job was taken back by the caller');
    // a job long enough for the workers to wake and take theirs: each runs on its own worker
    const n = 1 << 20, big = rt.heap.alloc(3 * n), sum = rt.heap.alloc(3 * n);
    big.array.fill(1);
    let taken = 0;
    for (let rep = 0; rep < 20 && taken === 0; rep++) {
      const w = rt.pool.run('jsScale', [0, 1, 2].map((i) => [n, big.ptr + 4 * n * i, sum.ptr + 4 * n * i]));
      taken = w.filter((t, i) => i > 0 && t === i).length;
    }
    assert.ok(taken > 0, 'workers took jobs');
  } finally {
    await rt.close();
  }
});

test('thousands of tiny dispatches from an async loop, with setImmediate turns and forced GCs, all complete', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const rt = await createWasmRuntime({ threads: 2, poolTimeoutMs: 10_000 });
  try {
    const src = rt.heap.alloc(64);
    src.array.fill(1);
    const liveBefore = rt.heap.stats().liveBlocks;
    let checked = 0;
    for (let i = 0; i < 6000; i++) {
      // a block freed by the FinalizationRegistry, as tensor storage is
      const out = rt.heap.alloc(64);
      rt.heap.freeWhenCollected(out.array, out.ptr);
      const sums = rt.pool.run('scale', [[32, src.ptr, i, out.ptr], [32, src.ptr + 128, i + 1, out.ptr + 128]]);
      assert.equal(sums.length, 2);
      if (out.array[0] !== i || out.array[63] !== i + 1) assert.fail(`dispatch ${i}: got ${out.array[0]}, ${out.array[63]}`);
      checked++;
      if (i % 7 === 0) await new Promise((r) => setImmediate(r));
      if (i % 500 === 0) gc();
    }
    assert.equal(checked, 6000);
    gc();
    for (let t = 0; t < 5; t++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(rt.heap.stats().liveBlocks < liveBefore + 1000, `finalizers freed the blocks (${rt.heap.stats().liveBlocks} live)`);
  } finally {
    await rt.close();
  }
});
