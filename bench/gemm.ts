// SGEMM / SGEMV throughput of the wasm backend (src/backend/wasm) at 1 and 2 threads, plus pool dispatch cost;
// the same square SGEMM through the system BLAS (tessera-blas) and, with TESSERA_REF_PYTHON=/path/to/python,
// numpy and PyTorch. Prints a table and one JSON line per measurement {bench, impl, threads, n, gflops}.
// Best-of timing: the machine is shared, so the minimum over repetitions is the least noisy estimate of what
// the kernel can do; single-thread wasm rows also give GFLOP per CPU-second (`gflops_cpu`), which other
// processes' load does not change.
// Usage: node --import tsx bench/gemm.ts [--sizes 128,512,1024,2048] [--threads 1,2]
import { spawnSync } from 'node:child_process';
import { createWasmRuntime, wasmVariant, type WasmRuntime } from '../src/backend/wasm/runtime.ts';
import { sgemm } from '../src/backend/wasm/gemm.ts';
import { loadCblas } from '../src/backend/blas/index.ts';

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

/** Least CPU time (user + system, all threads) of one call. */
function bestCpuSeconds(fn: () => void, reps: number): number {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / 1e6);
  }
  return best;
}

function benchGemm(rt: WasmRuntime, n: number): { gflops: number; gflopsCpu: number } {
  const [A, B, C] = [rt.heap.alloc(n * n), rt.heap.alloc(n * n), rt.heap.alloc(n * n)];
  randn(A.array); randn(B.array);
  const f = () => sgemm(rt, false, false, n, n, n, 1, A.array, n, B.array, n, 0, C.array, n);
  const s = bestSeconds(f, n >= 2048 ? 4 : 1.5);
  // CPU time has ~1 ms resolution: time enough calls that one measurement spans ≥ 50 ms
  const calls = Math.max(1, Math.ceil(0.05 / s));
  const cpu = bestCpuSeconds(() => { for (let i = 0; i < calls; i++) f(); }, 5) / calls;
  for (const b of [A, B, C]) rt.heap.free(b.ptr);
  const flop = 2 * n * n * n;
  return { gflops: flop / s / 1e9, gflopsCpu: flop / cpu / 1e9 };
}

function benchBlas(threads: number, n: number): number | null {
  let blas;
  try { blas = loadCblas(); } catch { return null; }
  blas.setThreads(threads);
  const A = new Float32Array(n * n), B = new Float32Array(n * n), C = new Float32Array(n * n);
  randn(A); randn(B);
  const s = bestSeconds(() => blas.sgemm(101, 111, 111, n, n, n, 1, A, n, B, n, 0, C, n), n >= 2048 ? 4 : 1.5);
  return (2 * n * n * n) / s / 1e9;
}

// numpy and torch matmul timed in the reference Python, best of repetitions, one JSON line per measurement
const PY_BENCH = `
import json, sys, time
import numpy as np
sizes, t = [int(x) for x in sys.argv[1].split(',')], int(sys.argv[2])
try:
    import torch
except ImportError:
    torch = None
def best(f, budget):
    f(); b = float('inf'); end = time.perf_counter() + budget; reps = 0
    while reps < 3 or (time.perf_counter() < end and reps < 200):
        t0 = time.perf_counter(); f(); b = min(b, time.perf_counter() - t0); reps += 1
    return b
if torch is not None: torch.set_num_threads(t)
for n in sizes:
    a = np.random.rand(n, n).astype(np.float32) - 0.5; b = np.random.rand(n, n).astype(np.float32) - 0.5
    print(json.dumps({'bench': 'gemm', 'impl': 'numpy', 'threads': t, 'n': n, 'gflops': round(2 * n**3 / best(lambda: a @ b, 1.5) / 1e9, 2)}))
    if torch is not None:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        print(json.dumps({'bench': 'gemm', 'impl': 'pytorch', 'threads': t, 'n': n, 'gflops': round(2 * n**3 / best(lambda: ta @ tb, 1.5) / 1e9, 2)}))
`;

function benchPython(sizes: number[], threads: number[]): Array<{ impl: string; threads: number; n: number; gflops: number }> {
  const py = process.env.TESSERA_REF_PYTHON;
  if (!py) return [];
  return threads.flatMap((t) => {
    // numpy's BLAS reads its thread count from the environment at import
    const env = { ...process.env, OMP_NUM_THREADS: String(t), OPENBLAS_NUM_THREADS: String(t), MKL_NUM_THREADS: String(t) };
    const r = spawnSync(py, ['-c', PY_BENCH, sizes.join(','), String(t)], { encoding: 'utf8', timeout: 600_000, env });
    if (r.status !== 0) {
      console.error(`bench:gemm: ${py} failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
      return [];
    }
    return r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { impl: string; threads: number; n: number; gflops: number });
  });
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
    const { gflops, gflopsCpu } = benchGemm(rt, n);
    const cpu = threads === 1 ? { gflops_cpu: +gflopsCpu.toFixed(2) } : {};
    console.log(JSON.stringify({ bench: 'gemm', impl: 'tessera-wasm', variant: wasmVariant, threads, n, gflops: +gflops.toFixed(2), ...cpu }));
    rows.push(`sgemm   n=${String(n).padEnd(5)} threads=${threads}  ${gflops.toFixed(1).padStart(6)} GFLOP/s` +
      (threads === 1 ? `  (${gflopsCpu.toFixed(1)} per CPU-second)` : ''));
  }
  const gbps = benchGemv(rt, 4096);
  console.log(JSON.stringify({ bench: 'gemv', impl: 'tessera-wasm', variant: wasmVariant, threads, n: 4096, gbps: +gbps.toFixed(2) }));
  rows.push(`sgemv   n=4096  threads=${threads}  ${gbps.toFixed(1).padStart(6)} GB/s`);
  const us = dispatchMicros(rt);
  console.log(JSON.stringify({ bench: 'dispatch', impl: 'tessera-wasm', threads, us: +us.toFixed(2) }));
  rows.push(`dispatch        threads=${threads}  ${us.toFixed(2).padStart(6)} µs/call`);
  await rt.close();
}
for (const threads of arg('threads', '1,2')) {
  for (const n of arg('sizes', '128,512,1024,2048')) {
    const gflops = benchBlas(threads, n);
    if (gflops === null) break;
    console.log(JSON.stringify({ bench: 'gemm', impl: 'tessera-blas', threads, n, gflops: +gflops.toFixed(2) }));
    rows.push(`blas    n=${String(n).padEnd(5)} threads=${threads}  ${gflops.toFixed(1).padStart(6)} GFLOP/s`);
  }
}
for (const m of benchPython(arg('sizes', '128,512,1024,2048'), arg('threads', '1,2'))) {
  console.log(JSON.stringify(m));
  rows.push(`${m.impl.padEnd(7)} n=${String(m.n).padEnd(5)} threads=${m.threads}  ${m.gflops.toFixed(1).padStart(6)} GFLOP/s`);
}
console.log(`\nwasm build: ${wasmVariant}\n${rows.join('\n')}`);
