// The `blas` path: GEMM through a system CBLAS (OpenBLAS on Linux, Accelerate on macOS) called with koffi.
// Only matmul is overridden; every other kernel comes from the backend it is layered on (wasm when built,
// else the reference). A batched product calls sgemm once per matrix, with the transposes read off the
// strides, so transposed views never copy.
//
// Threads: on the wasm backend, OpenBLAS runs single-threaded and a product is split across tessera's own worker
// pool (pool-ops.mjs: each worker calls sgemm on its rows, columns or matrices of the batch). OpenBLAS's own
// threads sleep between calls and took ~0.2 ms to wake on this VM, longer than most products of a small model
// take; the pool's workers spin between kernels and are the same threads the wasm kernels use, so the two never
// compete for the cores. On the reference backend (no pool) OpenBLAS keeps its own threads.

import { readFileSync } from 'node:fs';
import koffi, { type LibraryHandle } from 'koffi';
import type { Backend, Kernels, View } from '../backend.ts';
import type { FloatStorage } from '../../tensor/dtype.ts';
import type { Shape } from '../../tensor/shape.ts';
import { numel } from '../../tensor/shape.ts';
import { walk2 } from '../reference/iter.ts';
import { gemmLayout, gemmSpan, uniformBatchStride, type GemmOperand } from '../gemm-layout.ts';
import type { WasmRuntime } from '../wasm/runtime.ts';
import { wasmKernels } from '../wasm/index.ts';
import { blasAttentionBwd, blasAttentionFwd } from './attention.ts';
import { chunkCounter } from './chunks.ts';

const ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;

type Sgemm = (order: number, ta: number, tb: number, M: number, N: number, K: number, alpha: number,
  A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number) => void;

export interface Cblas {
  /** the name it was loaded by (koffi.load), so pool workers can load the same library */
  readonly library: string;
  readonly sgemm: Sgemm;
  setThreads(n: number): void;
}

const candidates = process.platform === 'darwin'
  ? ['/System/Library/Frameworks/Accelerate.framework/Accelerate']
  : ['libopenblas.so.0', 'libopenblas.so', 'libcblas.so.3', 'libblis.so.4'];

/**
 * OpenBLAS picks its kernels from the CPU model at load time, and releases older than the CPU fall back to
 * a generic SSE kernel (on this machine's Xeon model 207, 0.3.21 chose "Prescott": 30 GFLOP/s instead of
 * 99). When the user has not chosen, name the newest kernel family the CPU's flags support; it must be set
 * before the library loads.
 */
function chooseOpenblasCore(): void {
  // OpenBLAS's threads spin for a while after each call; tessera's own worker pool needs the same cores
  // between GEMMs, so keep the spin short (measured: attention 1.8x faster, the training step 1.3x).
  process.env.OPENBLAS_THREAD_TIMEOUT ??= '4';
  if (process.platform !== 'linux' || process.env.OPENBLAS_CORETYPE) return;
  let flags = '';
  try {
    flags = readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '';
  } catch {
    return;
  }
  const has = (f: string) => new RegExp(`\\b${f}\\b`).test(flags);
  if (has('avx512f') && has('avx512bw') && has('avx512vl') && has('avx512dq')) process.env.OPENBLAS_CORETYPE = 'SkylakeX';
  else if (has('avx2') && has('fma')) process.env.OPENBLAS_CORETYPE = 'Haswell';
}

/** Loads the first CBLAS found (TESSERA_BLAS_LIB names one explicitly); throws listing what was tried. */
export function loadCblas(): Cblas {
  chooseOpenblasCore();
  const tried: string[] = [];
  const list = process.env.TESSERA_BLAS_LIB ? [process.env.TESSERA_BLAS_LIB] : candidates;
  for (const name of list) {
    let lib: LibraryHandle;
    try {
      lib = koffi.load(name);
    } catch (e) {
      tried.push(`${name} (${(e as Error).message.split('\n')[0]})`);
      continue;
    }
    const sgemm = lib.func('void cblas_sgemm(int, int, int, int, int, int, float, const float *, int, const float *, int, float, _Inout_ float *, int)') as unknown as Sgemm;
    let setThreads = (_n: number): void => {};
    try {
      const f = lib.func('void openblas_set_num_threads(int)') as unknown as (n: number) => void;
      setThreads = (n) => f(n);
    } catch { /* not OpenBLAS: threads are the library's business */ }
    return { library: name, sgemm, setThreads };
  }
  throw new Error(`no CBLAS library found (tried ${tried.join(', ')}); on Debian: apt-get install libopenblas0-pthread`);
}

/** Below this many flops a product runs on the calling thread alone (a dispatch costs a few µs). */
const SPLIT_FLOPS = 1 << 20;
/** Chunks are at least this many flops (smaller sgemm calls lose speed), and at most 4 per thread. */
const CHUNK_FLOPS = 1 << 22;

/**
 * The product split across the wasm pool (`blasSgemm`, pool-ops.mjs: chunks of matrices, rows or columns claimed
 * from a shared counter), or false when an operand is not in the pool's memory or the batch does not step
 * uniformly (the caller then runs it on this thread).
 */
function pooledSgemm(rt: WasmRuntime, a: View, b: View, batch: Shape, M: number, N: number, K: number, out: Float32Array,
                     la: GemmOperand, lb: GemmOperand): boolean {
  const A = a.data as Float32Array, B = b.data as Float32Array, heap = rt.heap;
  if (!heap.owns(A) || !heap.owns(B) || !heap.owns(out)) return false;
  const nb = batch.length, count = numel(batch);
  const sa = nb === 0 ? 0 : uniformBatchStride(batch, a.strides, nb), sb = nb === 0 ? 0 : uniformBatchStride(batch, b.strides, nb);
  if (sa === null || sb === null) return false;
  const flops = 2 * M * N * K * count;
  const threads = Math.min(rt.threads, Math.max(1, Math.floor(flops / SPLIT_FLOPS)));
  const want = threads === 1 ? 1 : Math.max(threads, Math.min(4 * threads, Math.floor(flops / CHUNK_FLOPS)));
  // whole matrices when there are enough of them, else row blocks (multiples of 8, the register-tile height),
  // else column blocks (multiples of 16) when the rows are few
  let mode = 0, per = Math.ceil(count / want);
  if (want > 1 && count < want) {
    if (M >= N || M >= 16 * want) { mode = 1; per = Math.ceil(M / want / 8) * 8; } else { mode = 2; per = Math.ceil(N / want / 16) * 16; }
  }
  const n = Math.ceil((mode === 0 ? count : mode === 1 ? M : N) / per);
  const job = [la.trans ? 1 : 0, lb.trans ? 1 : 0, M, N, K, A.byteOffset / 4 + a.offset, la.ld, B.byteOffset / 4 + b.offset, lb.ld,
    out.byteOffset / 4, N, count, sa, sb, M * N, mode, per, n, threads === 1 ? 0 : chunkCounter(rt)];
  rt.pool.run('blasSgemm', new Array<number[]>(Math.min(threads, n)).fill(job));
  return true;
}

export function blasMatmul(blas: Cblas, fallback: Kernels['matmul'], rt: WasmRuntime | null = null): Kernels['matmul'] {
  return (a: View, b: View, batch: Shape, M: number, N: number, K: number, out: FloatStorage) => {
    if (!(a.data instanceof Float32Array) || !(b.data instanceof Float32Array) || !(out instanceof Float32Array)) {
      fallback(a, b, batch, M, N, K, out);
      return;
    }
    const nb = batch.length;
    const la = gemmLayout(a.strides, nb, M, K), lb = gemmLayout(b.strides, nb, K, N);
    if (!la || !lb || M === 0 || N === 0) { fallback(a, b, batch, M, N, K, out); return; }
    if (K === 0 || numel(batch) === 0) { out.fill(0); return; }
    if (rt && pooledSgemm(rt, a, b, batch, M, N, K, out, la, lb)) return;
    const A = a.data, B = b.data;
    // the last element each operand reads, so subarray views stay in bounds
    const spanA = gemmSpan(la, M, K), spanB = gemmSpan(lb, K, N);
    let o = 0;
    const step = M * N;
    walk2(batch, a.strides.slice(0, nb), a.offset, b.strides.slice(0, nb), b.offset, (_i, pa, pb) => {
      blas.sgemm(ROW_MAJOR, la.trans ? TRANS : NO_TRANS, lb.trans ? TRANS : NO_TRANS, M, N, K, 1,
        A.subarray(pa, pa + spanA), la.ld, B.subarray(pb, pb + spanB), lb.ld, 0, out.subarray(o, o + step), N);
      o += step;
    });
  };
}

/**
 * Loads CBLAS, single-threaded, and its pool ops (pool-ops.mjs: blasSgemm, blasAttnFwd, blasAttnBwd) on every
 * thread of the wasm runtime `rt`.
 */
export async function attachBlas(rt: WasmRuntime): Promise<Cblas> {
  const blas = loadCblas();
  await rt.pool.loadOps(new URL('./pool-ops.mjs', import.meta.url).href, { library: blas.library }, rt.heap.memory);
  blas.setThreads(1);
  return blas;
}

/**
 * A backend that is `base` with GEMM through CBLAS. On a wasm base the products are split across its worker pool
 * (OpenBLAS single-threaded) and attention is built from GEMMs (./attention.ts); on the reference backend
 * OpenBLAS uses `threads` threads itself.
 */
export async function blasBackend(base: Backend & { runtime?: WasmRuntime }, threads: number): Promise<Backend> {
  const rt = base.runtime ?? null;
  const blas = rt ? await attachBlas(rt) : loadCblas();
  if (!rt) blas.setThreads(threads);
  const baseMatmul = base.kernels.matmul;
  const threading = rt ? `split over the ${rt.threads} wasm worker${rt.threads === 1 ? '' : 's'}, attention from GEMMs` : `${threads} OpenBLAS thread${threads === 1 ? '' : 's'}`;
  const attention = rt ? wasmKernels(rt, { fwd: blasAttentionFwd, bwd: blasAttentionBwd }) : {};
  return {
    name: 'blas',
    detail: `GEMM: ${blas.library}${process.env.OPENBLAS_CORETYPE ? ` (OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE})` : ''}, ${threading}; other kernels: ${base.name}${base.detail ? ` (${base.detail})` : ''}`,
    alloc: base.alloc,
    ...(base.allocUninit ? { allocUninit: base.allocUninit } : {}),
    kernels: {
      ...base.kernels,
      ...(attention.attention && attention.attentionBackward ? { attention: attention.attention, attentionBackward: attention.attentionBackward } : {}),
      matmul: blasMatmul(blas, baseMatmul ?? fallbackMatmul, rt),
    },
    threads,
    dtypes: ['float32'],
  };
}

import { matmul as fallbackMatmul } from '../reference/reduce.ts';
