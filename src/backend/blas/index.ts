// The `blas` path: GEMM through a system CBLAS (MKL or OpenBLAS on Linux, Accelerate on macOS) called with koffi.
// matmul is overridden, and on a wasm base attention (built from sgemm, ./attention.ts); every other kernel comes
// from the backend it is layered on (wasm when built, else the reference). A batched product calls sgemm once
// per matrix, with the transposes read off the strides, so transposed views never copy.
//
// Threads: on the wasm backend, OpenBLAS runs single-threaded and a product is split across tessera's own worker
// pool (pool-ops.mjs: each worker calls sgemm on its rows, columns or matrices of the batch). OpenBLAS's own
// threads sleep between calls and took ~0.2 ms to wake on this VM, longer than most products of a small model
// take; the pool's workers spin between kernels and are the same threads the wasm kernels use, so the two never
// compete for the cores. On the reference backend (no pool) OpenBLAS keeps its own threads. OpenBLAS's thread
// count is one setting per process: a process holding both kinds sees the last one set (results do not change).

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
import { binary } from '../wasm/elementwise.ts';

const ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;

type Sgemm = (order: number, ta: number, tb: number, M: number, N: number, K: number, alpha: number,
  A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number) => void;

export interface Cblas {
  /** the name it was loaded by (koffi.load), so pool workers can load the same library */
  readonly library: string;
  readonly sgemm: Sgemm;
  setThreads(n: number): void;
  /** one thread whatever setThreads says (MKL's sequential layer) */
  readonly sequential: boolean;
}

const OPENBLAS_FAMILY = ['libopenblas.so.0', 'libopenblas.so', 'libcblas.so.3', 'libblis.so.4'];
const MKL = 'libmkl_rt.so';

/**
 * The libraries tried, in order. On Intel CPUs Intel's MKL comes first when installed (Debian non-free
 * `libmkl-rt`): on this machine's Xeon its sgemm ran the training anchor's step 1.17x faster than OpenBLAS's
 * (BENCHMARKS.md), mostly on the small and tall-skinny products. Elsewhere OpenBLAS comes first (MKL's fast paths
 * are chosen by CPU vendor).
 */
function candidates(): string[] {
  if (process.platform === 'darwin') return ['/System/Library/Frameworks/Accelerate.framework/Accelerate'];
  return cpuinfo().match(/^vendor_id\s*:\s*GenuineIntel/m) ? [MKL, ...OPENBLAS_FAMILY] : [...OPENBLAS_FAMILY, MKL];
}

function cpuinfo(): string {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}

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
  const flags = cpuinfo().match(/^flags\s*:(.*)$/m)?.[1] ?? '';
  const has = (f: string) => new RegExp(`\\b${f}\\b`).test(flags);
  if (has('avx512f') && has('avx512bw') && has('avx512vl') && has('avx512dq')) process.env.OPENBLAS_CORETYPE = 'SkylakeX';
  else if (has('avx2') && has('fma')) process.env.OPENBLAS_CORETYPE = 'Haswell';
}

/**
 * Loads the first CBLAS found (`library`, else TESSERA_BLAS_LIB, names one explicitly); throws listing what was
 * tried. MKL is switched to its sequential layer: tessera's worker pool is its threading.
 */
export function loadCblas(library = process.env.TESSERA_BLAS_LIB): Cblas {
  chooseOpenblasCore();
  const tried: string[] = [];
  const list = library ? [library] : candidates();
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
    let sequential = false;
    try {
      // before any computing call; the layer is one per process (1 = MKL_THREADING_SEQUENTIAL)
      (lib.func('int MKL_Set_Threading_Layer(int)') as unknown as (code: number) => number)(1);
      sequential = true;
    } catch { /* not MKL */ }
    return { library: name, sgemm, setThreads, sequential };
  }
  throw new Error(`no CBLAS library found (tried ${tried.join(', ')}); on Debian: apt-get install libopenblas0-pthread`);
}

/** Below this many flops a product runs on the calling thread alone (a dispatch costs a few µs). */
const SPLIT_FLOPS = 1 << 20;

/**
 * The product split across the wasm pool (`blasSgemm`, pool-ops.mjs: one chunk per thread, claimed from a shared
 * counter), or false when an operand is not in the pool's memory or the batch does not step uniformly (the caller
 * then runs it on this thread). Each chunk is a separate sgemm that packs its own operands, so the split is chosen
 * to pack little twice: whole matrices of a batch; else along K when K is long against M and N (a weight
 * gradient gᵀ·x: each thread packs only its half of both operands, and the partial products are added); else the
 * longer of M and N (a row split repacks B, a column split repacks A; the smaller one is repacked).
 */
function pooledSgemm(rt: WasmRuntime, a: View, b: View, batch: Shape, M: number, N: number, K: number, out: Float32Array,
                     la: GemmOperand, lb: GemmOperand): boolean {
  const A = a.data as Float32Array, B = b.data as Float32Array, heap = rt.heap;
  if (!heap.owns(A) || !heap.owns(B) || !heap.owns(out)) return false;
  const nb = batch.length, count = numel(batch);
  const sa = nb === 0 ? 0 : uniformBatchStride(batch, a.strides, nb), sb = nb === 0 ? 0 : uniformBatchStride(batch, b.strides, nb);
  if (sa === null || sb === null) return false;
  const threads = Math.min(rt.threads, Math.max(1, Math.floor((2 * M * N * K * count) / SPLIT_FLOPS)));
  // modes: 0 matrices, 1 rows (multiples of 8, the register-tile height), 2 columns (multiples of 16), 3 K
  let mode = 0, per = Math.ceil(count / threads);
  if (threads > 1 && count < threads) {
    if (count === 1 && K >= 2 * Math.max(M, N)) { mode = 3; per = Math.ceil(K / threads / 8) * 8; }
    else if (M >= N || N < 16 * threads) { mode = 1; per = Math.ceil(M / threads / 8) * 8; }
    else { mode = 2; per = Math.ceil(N / threads / 16) * 16; }
  }
  const n = Math.ceil([count, M, N, K][mode]! / per);
  // a K split writes chunk 0 into the output and chunk i > 0 into partial i − 1, summed afterwards
  const partials = mode === 3 ? heap.alloc((n - 1) * M * N) : null;
  try {
    const job = [la.trans ? 1 : 0, lb.trans ? 1 : 0, M, N, K, A.byteOffset / 4 + a.offset, la.ld, B.byteOffset / 4 + b.offset, lb.ld,
      out.byteOffset / 4, N, count, sa, sb, M * N, mode, per, n, threads === 1 ? 0 : chunkCounter(rt), partials ? partials.ptr / 4 : 0];
    rt.pool.run('blasSgemm', new Array<number[]>(Math.min(threads, n)).fill(job));
    for (let i = 1; partials && i < n; i++) binary(rt, 'add', M * N, out, partials.array.subarray((i - 1) * M * N, i * M * N), out);
  } finally {
    if (partials) heap.free(partials.ptr);
  }
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
export async function attachBlas(rt: WasmRuntime, library?: string): Promise<Cblas> {
  const blas = loadCblas(library);
  await rt.pool.loadOps(new URL('./pool-ops.mjs', import.meta.url).href, { library: blas.library }, rt.heap.memory);
  blas.setThreads(1);
  return blas;
}

/** Where MKL would have been chosen but is not installed, say so (it is the faster library on Intel CPUs). */
function mklHint(blas: Cblas): string {
  return blas.library !== MKL && !process.env.TESSERA_BLAS_LIB && candidates()[0] === MKL ? ` [${MKL} (Debian: libmkl-rt) is faster on this Intel CPU]` : '';
}

/**
 * A backend that is `base` with GEMM through CBLAS. On a wasm base the products are split across its worker pool
 * (the library single-threaded) and attention is built from GEMMs (./attention.ts); on the reference backend
 * OpenBLAS uses `threads` threads itself (MKL stays sequential). `library` names the CBLAS to load (else as
 * loadCblas chooses).
 */
export async function blasBackend(base: Backend & { runtime?: WasmRuntime }, threads: number, library?: string): Promise<Backend> {
  const rt = base.runtime ?? null;
  const blas = rt ? await attachBlas(rt, library) : loadCblas(library);
  if (!rt) blas.setThreads(threads);
  const baseMatmul = base.kernels.matmul;
  const own = blas.sequential ? 1 : threads;
  const threading = rt ? `split over the ${rt.threads} wasm worker${rt.threads === 1 ? '' : 's'}, attention from GEMMs` : `${own} BLAS thread${own === 1 ? '' : 's'}`;
  const attention = rt ? wasmKernels(rt, { fwd: blasAttentionFwd, bwd: blasAttentionBwd }) : {};
  return {
    name: 'blas',
    detail: `GEMM: ${blas.library}${blas.sequential ? ' (sequential)' : ''}${!blas.sequential && process.env.OPENBLAS_CORETYPE ? ` (OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE})` : ''}${mklHint(blas)}, ${threading}; other kernels: ${base.name}${base.detail ? ` (${base.detail})` : ''}`,
    alloc: base.alloc,
    ...(base.allocUninit ? { allocUninit: base.allocUninit } : {}),
    ...(base.release ? { release: base.release } : {}),
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
