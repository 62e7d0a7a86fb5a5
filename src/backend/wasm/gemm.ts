// SGEMM on the wasm backend: C = alpha · op(A) · op(B) + beta · C for row-major f32 matrices, BLAS argument
// order (transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc), all four transpose combinations.
// The packed, cache-blocked kernel is in assembly/gemm.ts; here we validate, pick GEMV for vector shapes
// (bandwidth-bound, packing would only add traffic) and split the work across the pool: large products with
// enough rows pack op(B) once into a buffer all threads share and hand out row chunks dynamically (sharedB);
// the rest split rows (or columns) statically.
import { ptrOf, splitRange, type WasmRuntime } from './runtime.ts';

// assembly/gemm.ts's micro-kernel tile (M and N splits stay on its boundaries) and row block (the largest row
// chunk); gemm.test.ts checks them against the module's gemmBlocking()
export const MR = 4;
export const NR = 8;
export const MC = 120;
const SHARED_MIN_WORK = 1 << 23; // flops below which the shared buffer and chunking do not pay for themselves

function need(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

function checkDims(kernel: string, M: number, N: number, K: number, transA: boolean, transB: boolean, lda: number, ldb: number, ldc: number): void {
  for (const [name, v] of [['M', M], ['N', N], ['K', K]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`${kernel}: ${name} must be a non-negative integer, got ${v}`);
  }
  const minLda = Math.max(1, transA ? M : K), minLdb = Math.max(1, transB ? K : N), minLdc = Math.max(1, N);
  if (!(lda >= minLda)) throw new Error(`${kernel}: lda=${lda} < ${minLda}`);
  if (!(ldb >= minLdb)) throw new Error(`${kernel}: ldb=${ldb} < ${minLdb}`);
  if (!(ldc >= minLdc)) throw new Error(`${kernel}: ldc=${ldc} < ${minLdc}`);
}

export function sgemm(rt: WasmRuntime, transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
                      A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number): void {
  checkDims('sgemm', M, N, K, transA, transB, lda, ldb, ldc);
  const a = ptrOf(rt, 'sgemm', 'A', A, transA ? need(K, M, lda) : need(M, K, lda));
  const b = ptrOf(rt, 'sgemm', 'B', B, transB ? need(N, K, ldb) : need(K, N, ldb));
  const c = ptrOf(rt, 'sgemm', 'C', C, need(M, N, ldc));
  if (M === 0 || N === 0) return;
  if (N === 1 && K > 0) return gemv(rt, transA, M, K, alpha, a, lda, b, transB ? 1 : ldb, beta, c, ldc);
  if (M === 1 && K > 0) return gemv(rt, !transB, N, K, alpha, b, ldb, a, transA ? lda : 1, beta, c, 1);
  const work = 2 * M * N * K;
  const ta = transA ? 1 : 0, tb = transB ? 1 : 0;
  if (rt.threads > 1 && K > 0 && alpha !== 0 && M >= 4 * MR * rt.threads && work >= SHARED_MIN_WORK) {
    return sharedB(rt, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  if (M >= N || M >= 8 * MR * rt.threads) {
    const chunks = splitRange(rt, M, MR, work);
    rt.pool.run('sgemm', chunks.map(([m0, m1], w) => [ta, tb, m1 - m0, N, K, alpha,
      a + 4 * (transA ? m0 : m0 * lda), lda, b, ldb, beta, c + 4 * m0 * ldc, ldc, rt.scratch[w]!]));
  } else {
    const chunks = splitRange(rt, N, NR, work);
    rt.pool.run('sgemm', chunks.map(([n0, n1], w) => [ta, tb, M, n1 - n0, K, alpha,
      a, lda, b + 4 * (transB ? n0 * ldb : n0), ldb, beta, c + 4 * n0, ldc, rt.scratch[w]!]));
  }
}

// One dispatch of sgemmSharedB: the threads pack op(B) once into a shared buffer, then take row chunks from an
// atomic counter. About 4 chunks per thread, so a thread that is descheduled for a while leaves its chunks to
// the others.
function sharedB(rt: WasmRuntime, ta: number, tb: number, M: number, N: number, K: number, alpha: number,
                 a: number, lda: number, b: number, ldb: number, beta: number, c: number, ldc: number): void {
  const heap = rt.heap;
  const sync = heap.allocBytes(4 * rt.fn.packedBFloats!(N, K) + 64); // first cache line: the counters
  try {
    new Int32Array(heap.memory.buffer, sync, 3).fill(0);
    const chunk = Math.min(MC, Math.max(4 * MR, Math.ceil(M / (4 * rt.threads) / MR) * MR));
    rt.pool.run('sgemmSharedB', Array.from({ length: rt.threads }, (_, w) =>
      [ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc, rt.scratch[w]!, sync + 64, sync, chunk]));
  } finally {
    heap.free(sync);
  }
}

// y = alpha · op(A) x + beta · y where op(A) is M×K; x, y may be strided (copied through a temporary).
function gemv(rt: WasmRuntime, trans: boolean, M: number, K: number, alpha: number,
              a: number, lda: number, x: number, incx: number, beta: number, y: number, incy: number): void {
  const heap = rt.heap;
  const xt = incx === 1 ? x : heap.allocBytes(4 * K);
  const yt = incy === 1 ? y : heap.allocBytes(4 * M);
  try {
    if (incx !== 1) rt.fn.gatherStrided!(K, x, incx, xt);
    if (incy !== 1 && beta !== 0) rt.fn.gatherStrided!(M, y, incy, yt);
    const chunks = splitRange(rt, M, 16, 2 * M * K);
    rt.pool.run('sgemv', chunks.map(([m0, m1]) => [trans ? 1 : 0, m1 - m0, K, alpha,
      a + 4 * (trans ? m0 : m0 * lda), lda, xt, beta, yt + 4 * m0]));
    if (incy !== 1) rt.fn.scatterStrided!(M, yt, y, incy);
  } finally {
    if (xt !== x) heap.free(xt);
    if (yt !== y) heap.free(yt);
  }
}

/**
 * count GEMMs with operands at float strides strideA/B/C (batched matmul, attention per head).
 * Batches are split across workers when there are enough of them, otherwise each GEMM is split by rows.
 */
export function sgemmStridedBatched(rt: WasmRuntime, transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
                                    A: Float32Array, lda: number, strideA: number, B: Float32Array, ldb: number, strideB: number,
                                    beta: number, C: Float32Array, ldc: number, strideC: number, count: number): void {
  checkDims('sgemmStridedBatched', M, N, K, transA, transB, lda, ldb, ldc);
  if (!Number.isInteger(count) || count < 0) throw new Error(`sgemmStridedBatched: count must be a non-negative integer, got ${count}`);
  if (count === 0) return;
  const last = count - 1;
  const a = ptrOf(rt, 'sgemmStridedBatched', 'A', A, last * strideA + (transA ? need(K, M, lda) : need(M, K, lda)));
  const b = ptrOf(rt, 'sgemmStridedBatched', 'B', B, last * strideB + (transB ? need(N, K, ldb) : need(K, N, ldb)));
  const c = ptrOf(rt, 'sgemmStridedBatched', 'C', C, last * strideC + need(M, N, ldc));
  if (count < rt.threads || M === 1 || N === 1) {
    for (let i = 0; i < count; i++) {
      sgemm(rt, transA, transB, M, N, K, alpha, A.subarray(i * strideA), lda, B.subarray(i * strideB), ldb, beta, C.subarray(i * strideC), ldc);
    }
    return;
  }
  const chunks = splitRange(rt, count, 1, 2 * M * N * K * count);
  rt.pool.run('sgemmBatched', chunks.map(([b0, b1], w) => [transA ? 1 : 0, transB ? 1 : 0, M, N, K, alpha,
    a + 4 * b0 * strideA, lda, strideA, b + 4 * b0 * strideB, ldb, strideB, beta, c + 4 * b0 * strideC, ldc, strideC, b1 - b0, rt.scratch[w]!]));
}
