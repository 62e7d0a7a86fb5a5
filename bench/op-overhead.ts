// bench:op-overhead — what one small op costs through the op layer (allocation, finalizer registration, shape
// checks, staging, dispatch) when its arithmetic is nothing: an add of two 256-float rows, and a 256 × 1024
// matrix-vector product for scale. Decoding one token of a small model is ~250 such ops, so this is most of a
// batch-1 decode step. Best of 7 runs of 30,000 calls, gradients off; one JSON line per op.
//
//   npm run bench:op-overhead

import { initBackend } from '../src/backend/select.ts';
import { add, matmul, noGrad, randn } from '../src/tensor/index.ts';

const backend = await initBackend();
noGrad(() => {
  const a = randn([1, 256]), b = randn([1, 256]), w = randn([1024, 256]).transpose(0, 1);
  const ops: [string, () => unknown][] = [['add [1,256]', () => add(a, b)], ['mul [1,256]', () => a.mul(b)], ['matvec [1,256]x[256,1024]', () => matmul(a, w)]];
  console.log(`op                          µs/call   (backend ${backend.name}, ${backend.threads} threads)`);
  for (const [name, f] of ops) {
    for (let i = 0; i < 5000; i++) f();
    let best = Infinity;
    for (let r = 0; r < 7; r++) {
      const t0 = performance.now(), n = 30000;
      for (let i = 0; i < n; i++) f();
      best = Math.min(best, ((performance.now() - t0) / n) * 1000);
    }
    console.log(`${name.padEnd(28)}${best.toFixed(2).padStart(7)}`);
    console.log(JSON.stringify({ bench: 'op-overhead', impl: `tessera-${backend.name}`, threads: backend.threads, op: name, us_per_call: best, date: new Date().toISOString() }));
  }
});
