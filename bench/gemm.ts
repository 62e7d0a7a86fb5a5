// SGEMM / SGEMV throughput of the wasm backend (src/backend/wasm) at 1 and 2 threads, plus pool dispatch cost;
// the same square SGEMM through the blas backend's matmul kernel (tessera-blas: single-threaded MKL or OpenBLAS calls
// split across tessera's worker pool), through OpenBLAS called directly with its own threads (openblas, the
// issue's "direct OpenBLAS"), and, with TESSERA_REF_PYTHON=/path/to/python, numpy and PyTorch. Prints a table and one JSON line per measurement {bench, impl, threads, n, gflops}.
// Best-of timing: the machine is shared, so the minimum over repetitions is the least noisy estimate of what
// the kernel can do; single-thread wasm rows also give GFLOP per CPU-second (`gflops_cpu`), which other
// processes' load does not change.
// `--shapes training` instead times the tall-skinny products of the bench:train Llama anchor (B·T = 2048 rows,
// d 256, SwiGLU 1024, vocab 512) with the transposes linear() uses: forward x·Wᵀ, input gradient g·W and
// weight gradient gᵀ·x (transA, K = 2048).
// Usage: node --import tsx bench/gemm.ts [--sizes 128,512,1024,2048] [--threads 1,2] [--shapes training]
import { spawnSync } from 'node:child_process';
import { createWasmRuntime, wasmVariant, type WasmRuntime } from '../src/backend/wasm/runtime.ts';
import { sgemm } from '../src/backend/wasm/gemm.ts';
import { blasBackend, loadCblas } from '../src/backend/blas/index.ts';
import { createWasmBackend } from '../src/backend/wasm/index.ts';
import type { Backend } from '../src/backend/backend.ts';

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

/** OpenBLAS called directly (its own threads), op(A)·op(B) of M×K by K×N; null without a CBLAS. */
function benchOpenblas(threads: number, tA: boolean, tB: boolean, M: number, N: number, K: number): number | null {
  let blas;
  try { blas = loadCblas('libopenblas.so.0'); } catch { return null; } // OpenBLAS itself, whichever CBLAS tessera-blas prefers
  blas.setThreads(threads);
  const A = new Float32Array(M * K), B = new Float32Array(K * N), C = new Float32Array(M * N);
  randn(A); randn(B);
  const s = bestSeconds(() => blas.sgemm(101, tA ? 112 : 111, tB ? 112 : 111, M, N, K, 1, A, tA ? M : K, B, tB ? K : N, 0, C, N), M * N * K >= 2048 ** 3 ? 4 : 1.5);
  return (2 * M * N * K) / s / 1e9;
}

/** The blas backend's matmul kernel on operands in its wasm heap (as every tensor of a training step is). */
function benchBackendMatmul(b: Backend & { runtime: WasmRuntime }, tA: boolean, tB: boolean, M: number, N: number, K: number): number {
  const heap = b.runtime.heap, [A, B, C] = [heap.alloc(M * K), heap.alloc(K * N), heap.alloc(M * N)];
  randn(A.array); randn(B.array);
  const a = { data: A.array, shape: [M, K], strides: tA ? [1, M] : [K, 1], offset: 0 };
  const bv = { data: B.array, shape: [K, N], strides: tB ? [1, K] : [N, 1], offset: 0 };
  const s = bestSeconds(() => b.kernels.matmul!(a, bv, [], M, N, K, C.array), M * N * K >= 2048 ** 3 ? 4 : 1.5);
  for (const x of [A, B, C]) heap.free(x.ptr);
  return (2 * M * N * K) / s / 1e9;
}

/** The blas backend over a fresh wasm runtime of `threads` threads, or null without a CBLAS. */
async function blasOn(threads: number): Promise<(Backend & { runtime: WasmRuntime }) | null> {
  try { loadCblas(); } catch { return null; }
  const wasm = await createWasmBackend(threads);
  const b = await blasBackend(wasm, threads);
  console.error(`tessera-blas, ${threads} thread${threads === 1 ? '' : 's'}: ${b.detail}`);
  return { ...b, runtime: wasm.runtime };
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

// [name, transA, transB, M, N, K]: y = x·Wᵀ (W is [out, in]), dx = g·W, dW = gᵀ·x
const TRAINING: Array<[string, boolean, boolean, number, number, number]> = [
  ['fwd qkvo x·Wᵀ', false, true, 2048, 256, 256], ['fwd qkv fused', false, true, 2048, 768, 256],
  ['fwd gate/up', false, true, 2048, 1024, 256], ['fwd down', false, true, 2048, 256, 1024], ['fwd head', false, true, 2048, 512, 256],
  ['dx qkvo g·W', false, false, 2048, 256, 256], ['dx gate/up', false, false, 2048, 256, 1024],
  ['dx down', false, false, 2048, 1024, 256], ['dx head', false, false, 2048, 256, 512],
  ['dW qkvo gᵀ·x', true, false, 256, 256, 2048], ['dW gate/up', true, false, 1024, 256, 2048],
  ['dW down', true, false, 256, 1024, 2048], ['dW head', true, false, 512, 256, 2048],
];

function benchShape(rt: WasmRuntime, tA: boolean, tB: boolean, M: number, N: number, K: number): { gflops: number; gflopsCpu: number } {
  const [A, B, C] = [rt.heap.alloc(M * K), rt.heap.alloc(K * N), rt.heap.alloc(M * N)];
  randn(A.array); randn(B.array);
  const f = () => sgemm(rt, tA, tB, M, N, K, 1, A.array, tA ? M : K, B.array, tB ? K : N, 0, C.array, N);
  const s = bestSeconds(f, 1);
  const calls = Math.max(1, Math.ceil(0.05 / s));
  const cpu = bestCpuSeconds(() => { for (let i = 0; i < calls; i++) f(); }, 3) / calls;
  for (const b of [A, B, C]) rt.heap.free(b.ptr);
  const flop = 2 * M * N * K;
  return { gflops: flop / s / 1e9, gflopsCpu: flop / cpu / 1e9 };
}

if (process.argv.includes('--shapes')) {
  const rows: string[] = [];
  for (const threads of arg('threads', '1,2')) {
    const rt = await createWasmRuntime({ threads });
    const totals = { 'tessera-wasm': [0, 0], 'tessera-blas': [0, 0], openblas: [0, 0] } as Record<string, [number, number]>;
    const blas = await blasOn(threads);
    for (const [name, tA, tB, M, N, K] of TRAINING) {
      const { gflops, gflopsCpu } = benchShape(rt, tA, tB, M, N, K);
      const flop = 2 * M * N * K;
      const line = (impl: string, g: number, extra: Record<string, number | string> = {}) => {
        totals[impl]![0] += flop; totals[impl]![1] += flop / (g * 1e9);
        console.log(JSON.stringify({ bench: 'gemm-training', impl, threads, name, transA: tA, transB: tB, M, N, K, gflops: +g.toFixed(2), ...extra }));
        rows.push(`${name.padEnd(15)} ${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ${`${M}×${N}×${K}`.padEnd(15)} ${impl.padEnd(12)} threads=${threads}  ${g.toFixed(1).padStart(6)} GFLOP/s`);
      };
      line('tessera-wasm', gflops, { variant: wasmVariant, gflops_cpu: +gflopsCpu.toFixed(2) });
      if (blas) {
        line('tessera-blas', benchBackendMatmul(blas, tA, tB, M, N, K));
        line('openblas', benchOpenblas(threads, tA, tB, M, N, K)!);
        loadCblas().setThreads(1); // what the backend's pool workers expect
      }
    }
    for (const [impl, [flop, sec]] of Object.entries(totals)) {
      if (sec > 0) rows.push(`all shapes, one each ${impl.padEnd(12)} threads=${threads}  ${(flop / sec / 1e9).toFixed(1).padStart(6)} GFLOP/s`);
    }
    await rt.close();
    await blas?.runtime.close();
  }
  console.log(`\nwasm build: ${wasmVariant}\n${rows.join('\n')}`);
  process.exit(0);
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
  const blas = await blasOn(threads);
  if (!blas) break;
  for (const n of arg('sizes', '128,512,1024,2048')) {
    for (const [impl, gflops] of [['tessera-blas', benchBackendMatmul(blas, false, false, n, n, n)], ['openblas', benchOpenblas(threads, false, false, n, n, n)!]] as const) {
      console.log(JSON.stringify({ bench: 'gemm', impl, threads, n, gflops: +gflops.toFixed(2) }));
      rows.push(`${impl.padEnd(12)} n=${String(n).padEnd(5)} threads=${threads}  ${gflops.toFixed(1).padStart(6)} GFLOP/s`);
    }
    loadCblas().setThreads(1); // what the backend's pool workers expect
  }
  await blas.runtime.close();
}
for (const m of benchPython(arg('sizes', '128,512,1024,2048'), arg('threads', '1,2'))) {
  console.log(JSON.stringify(m));
  rows.push(`${m.impl.padEnd(7)} n=${String(m.n).padEnd(5)} threads=${m.threads}  ${m.gflops.toFixed(1).padStart(6)} GFLOP/s`);
}
console.log(`\nwasm build: ${wasmVariant}\n${rows.join('\n')}`);
