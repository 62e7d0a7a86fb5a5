// The `blas` path: GEMM through a system CBLAS (OpenBLAS on Linux, Accelerate on macOS) called with koffi.
// Only matmul is overridden; every other kernel comes from the backend it is layered on (wasm when built,
// else the reference). A batched product calls sgemm once per matrix, with the transposes read off the
// strides, so transposed views never copy.

import koffi, { type LibraryHandle } from 'koffi';
import type { Backend, Kernels, View } from '../backend.ts';
import type { FloatStorage } from '../../tensor/dtype.ts';
import type { Shape } from '../../tensor/shape.ts';
import { numel } from '../../tensor/shape.ts';
import { walk2 } from '../reference/iter.ts';

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

/** Loads the first CBLAS found (TESSERA_BLAS_LIB names one explicitly); throws listing what was tried. */
export function loadCblas(): Cblas {
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

/** For the last two dims (rows r, cols c) of a strided view: the leading dimension and whether it is transposed, or null. */
function gemmLayout(strides: readonly number[], nb: number, rows: number, cols: number): { ld: number; trans: boolean } | null {
  const sr = strides[nb]!, sc = strides[nb + 1]!;
  if ((sc === 1 || cols === 1) && sr >= Math.max(1, cols)) return { ld: Math.max(sr, cols, 1), trans: false };
  if ((sr === 1 || rows === 1) && sc >= Math.max(1, rows)) return { ld: Math.max(sc, rows, 1), trans: true };
  return null;
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
    const spanA = la.trans ? (K - 1) * la.ld + M : (M - 1) * la.ld + K;
    const spanB = lb.trans ? (N - 1) * lb.ld + K : (K - 1) * lb.ld + N;
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
    alloc: base.alloc,
    kernels: { ...base.kernels, matmul: blasMatmul(blas, baseMatmul ?? fallbackMatmul) },
    threads,
    dtypes: ['float32'],
  };
}

import { matmul as fallbackMatmul } from '../reference/reduce.ts';
