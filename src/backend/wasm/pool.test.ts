// The worker pool: jobs run on their own workers over the shared memory, results come back, close() works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
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
  } finally {
    await rt.close();
  }
  assert.throws(() => rt.pool.run('scale', [[0, 0, 0, 0]]), /closed/);
});
