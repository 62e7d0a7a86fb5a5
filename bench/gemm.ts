// SGEMM / SGEMV throughput of the wasm backend (src/backend/wasm) at 1 and 2 threads, plus pool dispatch cost.
// Prints a table and one JSON line per measurement. Best-of timing: the machine is shared, so the minimum
// over repetitions is the least noisy estimate of what the kernel can do.
// Usage: node --import tsx bench/gemm.ts [--sizes 128,512,1024,2048] [--threads 1,2]
import { createWasmRuntime, wasmVariant, type WasmRuntime } from '../src/backend/wasm/runtime.ts';
import { sgemm } from '../src/backend/wasm/gemm.ts';

function arg(name: string, fallback: string): number[] {
  const i = process.argv.indexOf(`--${name}`);
  return (i >= 0 ? process.argv[i + 1]! : fallback).split(',').map(Number);
}

function bestSeconds(fn: () => void, budgetS: number): number {
  fn(); // warm-up (tier-up, page faults)
  let best = Infinity;
  const end = performance.now() + budgetS * 1000;
  let reps = 0;
  while (reps < 3 || (performance.now() < end && reps < 200)) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, (performance.now() - t0) / 1000);
    reps++;
  }
  return best;
}

function randn(a: Float32Array): void {
  for (let i = 0; i < a.length; i++) a[i] = Math.random() - 0.5;
}

function benchGemm(rt: WasmRuntime, n: number): number {
  const [A, B, C] = [rt.heap.alloc(n * n), rt.heap.alloc(n * n), rt.heap.alloc(n * n)];
  randn(A.array); randn(B.array);
  const s = bestSeconds(() => sgemm(rt, false, false, n, n, n, 1, A.array, n, B.array, n, 0, C.array, n), n >= 2048 ? 4 : 1.5);
  for (const b of [A, B, C]) rt.heap.free(b.ptr);
  return (2 * n * n * n) / s / 1e9;
}

function benchGemv(rt: WasmRuntime, n: number): number {
  const [A, x, y] = [rt.heap.alloc(n * n), rt.heap.alloc(n), rt.heap.alloc(n)];
  randn(A.array); randn(x.array);
  const s = bestSeconds(() => sgemm(rt, false, false, n, 1, n, 1, A.array, n, x.array, 1, 0, y.array, 1), 1);
  for (const b of [A, x, y]) rt.heap.free(b.ptr);
  return (4 * n * n) / s / 1e9;
}

function dispatchMicros(rt: WasmRuntime): number {
  const jobs = Array.from({ length: rt.threads }, () => [0]);
  const reps = 20000;
  rt.pool.run('heapBase', jobs);
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) rt.pool.run('heapBase', jobs);
  return ((performance.now() - t0) * 1000) / reps;
}

const rows: string[] = [];
for (const threads of arg('threads', '1,2')) {
  const rt = await createWasmRuntime({ threads });
  for (const n of arg('sizes', '128,512,1024,2048')) {
    const gflops = benchGemm(rt, n);
    console.log(JSON.stringify({ bench: 'gemm', impl: 'tessera-wasm', variant: wasmVariant, threads, n, gflops: +gflops.toFixed(2) }));
    rows.push(`sgemm   n=${String(n).padEnd(5)} threads=${threads}  ${gflops.toFixed(1).padStart(6)} GFLOP/s`);
  }
  const gbps = benchGemv(rt, 4096);
  console.log(JSON.stringify({ bench: 'gemv', impl: 'tessera-wasm', variant: wasmVariant, threads, n: 4096, gbps: +gbps.toFixed(2) }));
  rows.push(`sgemv   n=4096  threads=${threads}  ${gbps.toFixed(1).padStart(6)} GB/s`);
  const us = dispatchMicros(rt);
  console.log(JSON.stringify({ bench: 'dispatch', impl: 'tessera-wasm', threads, us: +us.toFixed(2) }));
  rows.push(`dispatch        threads=${threads}  ${us.toFixed(2).padStart(6)} µs/call`);
  await rt.close();
}
console.log(`\nwasm build: ${wasmVariant}\n${rows.join('\n')}`);
