// The `blas` path: GEMM through a system CBLAS (OpenBLAS on Linux, Accelerate on macOS) called with koffi.
// Only matmul is overridden; every other kernel comes from the backend it is layered on (wasm when built,
// else the reference). A batched product calls sgemm once per matrix, with the transposes read off the
// strides, so transposed views never copy.

import { readFileSync } from 'node:fs';
import koffi, { type LibraryHandle } from 'koffi';
import type { Backend, Kernels, View } from '../backend.ts';
import type { FloatStorage } from '../../tensor/dtype.ts';
import type { Shape } from '../../tensor/shape.ts';
import { numel } from '../../tensor/shape.ts';
import { walk2 } from '../reference/iter.ts';
import { gemmLayout, gemmSpan } from '../gemm-layout.ts';

const ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;

type Sgemm = (order: number, ta: number, tb: number, M: number, N: number, K: number, alpha: number,
  A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number) => void;

export interface Cblas {
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

export function blasMatmul(blas: Cblas, fallback: Kernels['matmul']): Kernels['matmul'] {
  return (a: View, b: View, batch: Shape, M: number, N: number, K: number, out: FloatStorage) => {
    if (!(a.data instanceof Float32Array) || !(b.data instanceof Float32Array) || !(out instanceof Float32Array)) {
      fallback(a, b, batch, M, N, K, out);
      return;
    }
    const nb = batch.length;
    const la = gemmLayout(a.strides, nb, M, K), lb = gemmLayout(b.strides, nb, K, N);
    if (!la || !lb || M === 0 || N === 0) { fallback(a, b, batch, M, N, K, out); return; }
    if (K === 0) { out.fill(0); return; }
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
    if (numel(batch) === 0) out.fill(0);
  };
}

/** A backend that is `base` with GEMM through CBLAS. */
export function blasBackend(base: Backend, threads: number): Backend {
  const blas = loadCblas();
  blas.setThreads(threads);
  const baseMatmul = base.kernels.matmul;
  return {
    name: 'blas',
    detail: `GEMM: ${blas.library}${process.env.OPENBLAS_CORETYPE ? ` (OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE})` : ''}; other kernels: ${base.name}${base.detail ? ` (${base.detail})` : ''}`,
    alloc: base.alloc,
    ...(base.allocUninit ? { allocUninit: base.allocUninit } : {}),
    kernels: { ...base.kernels, matmul: blasMatmul(blas, baseMatmul ?? fallbackMatmul) },
    threads,
    dtypes: ['float32'],
  };
}

import { matmul as fallbackMatmul } from '../reference/reduce.ts';
