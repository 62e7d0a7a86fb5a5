// AssemblyScript source, compiled by asc (scripts/build-wasm.mjs); tsconfig excludes this folder.
// Single-threaded SGEMM / SGEMV over row-major f32 matrices; the TS wrapper splits rows across workers.
// Structure follows Goto & van de Geijn, "Anatomy of High-Performance Matrix Multiplication" (BLIS loop
// order jc → pc → ic → jr → ir): B is packed into KC×NC panels (L2/L3), A into MC×KC blocks (L2), and a
// 4×8 register-blocked micro-kernel (8 f32x4 accumulators) streams one KC slice of each from L1.
// Why 4×8 and one k step a trip: V8 (TurboFan) schedules all of a trip's loads before its FMAs, so what is live
// at once is the accumulators plus every loaded A and B vector, and x64 gives wasm 15 vector registers. A 5×8
// tile (10 + 7 live) or two k steps a trip spilled accumulators to the stack, and each trip then waited on a
// store-to-load round trip. One thread, n = 512, GFLOP/s on the AMD EPYC VM: 5×8 × 2 steps (the tile this
// replaced) 31.5, 4×8 × 2 steps 25.9, 3×12 (A packed by the scalar loop) 44.5, 4×8 × 1 step 48.3 (8 + 6 live,
// no spill). `node --print-wasm-code` shows the loop.
// C(M×N) = alpha · op(A)(M×K) · op(B)(K×N) + beta · C.  Pointers are byte offsets; ld* count floats.

// madd (vmath.ts) lowers to one FMA where the engine has relaxed SIMD (kernels-relaxed.wasm), else mul + add.
import { madd } from './vmath';

export const MR = 4;
export const NR = 8;
export const KC = 256;
export const MC = 120; // multiple of MR
export const NC = 512; // multiple of NR
// Scratch a caller must provide per thread: packed A, packed B, one edge tile.
export const GEMM_SCRATCH_BYTES: i32 = (MC * KC + KC * NC + MR * NR) * 4;

// A(i, k) of op(A), alpha folded in; rows past mc are zero so edge tiles need no special kernel.
// Full MR-row tiles go through SIMD (a 4×4 transpose, or one vector per k when transposed): scalar packing
// cost ~9% of the N = 256 training products (it is redone per NC panel).
function packA(transA: bool, A: usize, lda: i32, ic: i32, pc: i32, mc: i32, kc: i32, alpha: f32, dst: usize): void {
  const va = f32x4.splat(alpha);
  for (let ir = 0; ir < mc; ir += MR) {
    const rows = min(MR, mc - ir);
    if (rows == MR && !transA) {
      const r0 = A + (<usize>(ic + ir) * <usize>lda + <usize>pc) * 4, step = <usize>lda * 4;
      const r1 = r0 + step, r2 = r1 + step, r3 = r2 + step;
      let k = 0;
      for (; k + 4 <= kc; k += 4) {
        const o = <usize>(k << 2), out = dst + <usize>(k * MR * 4);
        const v0 = f32x4.mul(v128.load(r0 + o), va), v1 = f32x4.mul(v128.load(r1 + o), va);
        const v2 = f32x4.mul(v128.load(r2 + o), va), v3 = f32x4.mul(v128.load(r3 + o), va);
        const t0 = v128.shuffle<f32>(v0, v1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(v0, v1, 2, 6, 3, 7);
        const t2 = v128.shuffle<f32>(v2, v3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(v2, v3, 2, 6, 3, 7);
        v128.store(out, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
        v128.store(out, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 16);
        v128.store(out, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 32);
        v128.store(out, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 48);
      }
      for (; k < kc; k++) {
        const o = <usize>(k << 2), out = dst + <usize>(k * MR * 4);
        store<f32>(out, alpha * load<f32>(r0 + o), 0); store<f32>(out, alpha * load<f32>(r1 + o), 4);
        store<f32>(out, alpha * load<f32>(r2 + o), 8); store<f32>(out, alpha * load<f32>(r3 + o), 12);
      }
    } else if (rows == MR) {
      for (let k = 0; k < kc; k++) {
        const src = A + (<usize>(pc + k) * <usize>lda + <usize>(ic + ir)) * 4;
        const out = dst + <usize>(k * MR * 4);
        v128.store(out, f32x4.mul(v128.load(src), va));
      }
    } else if (!transA) {
      for (let i = 0; i < MR; i++) {
        const out = dst + <usize>(i << 2);
        if (i < rows) {
          const src = A + (<usize>(ic + ir + i) * <usize>lda + <usize>pc) * 4;
          for (let k = 0; k < kc; k++) store<f32>(out + <usize>(k * MR * 4), alpha * load<f32>(src + <usize>(k << 2)));
        } else {
          for (let k = 0; k < kc; k++) store<f32>(out + <usize>(k * MR * 4), 0);
        }
      }
    } else {
      for (let k = 0; k < kc; k++) {
        const src = A + (<usize>(pc + k) * <usize>lda + <usize>(ic + ir)) * 4;
        const out = dst + <usize>(k * MR * 4);
        for (let i = 0; i < MR; i++) store<f32>(out + <usize>(i << 2), i < rows ? alpha * load<f32>(src + <usize>(i << 2)) : 0);
      }
    }
    dst += <usize>(MR * kc * 4);
  }
}

// B(k, j) of op(B) as NR-wide column panels, zero padded past nc.
function packB(transB: bool, B: usize, ldb: i32, pc: i32, jc: i32, kc: i32, nc: i32, dst: usize): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const cols = min(NR, nc - jr);
    if (!transB) {
      for (let k = 0; k < kc; k++) {
        const src = B + (<usize>(pc + k) * <usize>ldb + <usize>(jc + jr)) * 4;
        const out = dst + <usize>(k * NR * 4);
        if (cols == NR) {
          v128.store(out, v128.load(src));
          v128.store(out, v128.load(src, 16), 16);
        } else {
          for (let j = 0; j < NR; j++) store<f32>(out + <usize>(j << 2), j < cols ? load<f32>(src + <usize>(j << 2)) : 0);
        }
      }
    } else {
      for (let j = 0; j < NR; j++) {
        const out = dst + <usize>(j << 2);
        if (j < cols) {
          const src = B + (<usize>(jc + jr + j) * <usize>ldb + <usize>pc) * 4;
          for (let k = 0; k < kc; k++) store<f32>(out + <usize>(k * NR * 4), load<f32>(src + <usize>(k << 2)));
        } else {
          for (let k = 0; k < kc; k++) store<f32>(out + <usize>(k * NR * 4), 0);
        }
      }
    }
    dst += <usize>(NR * kc * 4);
  }
}

// C[4×8] += Apanel · Bpanel over kc (C = … when overwrite: the first K block of a beta = 0 product, which saves
// a zeroing pass and a read of C); ldcBytes is the row stride of C in bytes.
function kernel4x8(kc: i32, pa: usize, pb: usize, c: usize, ldcBytes: usize, overwrite: bool): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  let c30 = c00, c31 = c00;
  let a: v128, b0: v128, b1: v128;
  for (let k = 0; k < kc; k++) {
    b0 = v128.load(pb, 0); b1 = v128.load(pb, 16);
    a = v128.load32_splat(pa, 0); c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
    a = v128.load32_splat(pa, 4); c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
    a = v128.load32_splat(pa, 8); c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
    a = v128.load32_splat(pa, 12); c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
    pa += 16;
    pb += 32;
  }
  if (overwrite) {
    v128.store(c, c00); v128.store(c, c01, 16); c += ldcBytes;
    v128.store(c, c10); v128.store(c, c11, 16); c += ldcBytes;
    v128.store(c, c20); v128.store(c, c21, 16); c += ldcBytes;
    v128.store(c, c30); v128.store(c, c31, 16);
    return;
  }
  v128.store(c, f32x4.add(v128.load(c), c00)); v128.store(c, f32x4.add(v128.load(c, 16), c01), 16); c += ldcBytes;
  v128.store(c, f32x4.add(v128.load(c), c10)); v128.store(c, f32x4.add(v128.load(c, 16), c11), 16); c += ldcBytes;
  v128.store(c, f32x4.add(v128.load(c), c20)); v128.store(c, f32x4.add(v128.load(c, 16), c21), 16); c += ldcBytes;
  v128.store(c, f32x4.add(v128.load(c), c30)); v128.store(c, f32x4.add(v128.load(c, 16), c31), 16);
}

// C = beta · C over an M×N block (beta = 0 overwrites, so NaN garbage in C never leaks through).
function scaleC(M: i32, N: i32, beta: f32, C: usize, ldc: i32): void {
  if (beta == 1) return;
  for (let i = 0; i < M; i++) {
    const row = C + <usize>i * <usize>ldc * 4;
    for (let j = 0; j < N; j++) {
      const p = row + <usize>(j << 2);
      store<f32>(p, beta == 0 ? 0 : beta * load<f32>(p));
    }
  }
}

// C[mc×nc] (+)= packed A block · packed B block over one kc slice: the jr → ir loops around the micro-kernel.
function macroKernel(mc: i32, nc: i32, kc: i32, pa: usize, pb: usize, C: usize, ldcBytes: usize, edge: usize, overwrite: bool): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const cols = min(NR, nc - jr);
    const bp = pb + <usize>(jr * kc * 4);
    for (let ir = 0; ir < mc; ir += MR) {
      const rows = min(MR, mc - ir);
      const ap = pa + <usize>(ir * kc * 4);
      const c = C + <usize>ir * ldcBytes + <usize>(jr << 2);
      if (rows == MR && cols == NR) {
        kernel4x8(kc, ap, bp, c, ldcBytes, overwrite);
      } else {
        kernel4x8(kc, ap, bp, edge, NR * 4, true);
        for (let i = 0; i < rows; i++) {
          for (let j = 0; j < cols; j++) {
            const p = c + <usize>i * ldcBytes + <usize>(j << 2);
            const e = load<f32>(edge + <usize>((i * NR + j) << 2));
            store<f32>(p, overwrite ? e : load<f32>(p) + e);
          }
        }
      }
    }
  }
}

export function sgemm(transA: i32, transB: i32, M: i32, N: i32, K: i32, alpha: f32,
                      A: usize, lda: i32, B: usize, ldb: i32, beta: f32, C: usize, ldc: i32, scratch: usize): void {
  // beta = 0 is folded into the first K block (overwrite); any other beta ≠ 1 scales C once up front
  if (K == 0 || alpha == 0 || (beta != 0 && beta != 1)) scaleC(M, N, beta, C, ldc);
  if (K == 0 || alpha == 0) return;
  const pa = scratch;
  const pb = pa + <usize>(MC * KC * 4);
  const edge = pb + <usize>(KC * NC * 4);
  const ldcBytes = <usize>ldc * 4;
  for (let jc = 0; jc < N; jc += NC) {
    const nc = min(NC, N - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      packB(transB != 0, B, ldb, pc, jc, kc, nc, pb);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = min(MC, M - ic);
        packA(transA != 0, A, lda, ic, pc, mc, kc, alpha, pa);
        macroKernel(mc, nc, kc, pa, pb, C + (<usize>ic * <usize>ldc + <usize>jc) * 4, ldcBytes, edge, pc == 0 && beta == 0);
      }
    }
  }
}

// --- Multi-threaded GEMM with one shared copy of packed B -------------------------------------------------
// Splitting rows statically made every thread pack all of op(B) and left the caller waiting on the slowest
// thread (on a shared machine one of two threads is often descheduled). Instead, in one dispatch: (1) the
// threads take KC×NC blocks of op(B) from an atomic counter and pack them into one shared buffer, then wait
// until every block is packed; (2) each thread takes `chunk` rows at a time from a second counter and runs the
// whole K and N loops on them. A thread that starts late finds the work taken and returns at once, so the
// caller never waits on a sleeping worker more than once per product; no thread ever waits unboundedly here.
// Block (jc, pc) of packed B starts at float jc·K + ncp·pc (earlier column blocks are full NC wide).
// sync: three i32 counters (row chunks taken, B blocks taken, B blocks packed), zeroed by the caller.

/** Floats of packed op(B) for a K×N product. */
export function packedBFloats(N: i32, K: i32): i32 {
  return (N + NR - 1) / NR * NR * K;
}

export function sgemmSharedB(transA: i32, transB: i32, M: i32, N: i32, K: i32, alpha: f32, A: usize, lda: i32,
                             B: usize, ldb: i32, beta: f32, C: usize, ldc: i32, scratch: usize, packed: usize,
                             sync: usize, chunk: i32): void {
  const nP = (K + KC - 1) / KC, blocks = (N + NC - 1) / NC * nP;
  for (;;) {
    const blk = atomic.add<i32>(sync, 1, 4);
    if (blk >= blocks) break;
    const jc = (blk / nP) * NC, pc = (blk % nP) * KC;
    const nc = min(NC, N - jc), kc = min(KC, K - pc), ncp = (nc + NR - 1) / NR * NR;
    packB(transB != 0, B, ldb, pc, jc, kc, nc, packed + (<usize>jc * <usize>K + <usize>ncp * <usize>pc) * 4);
    atomic.add<i32>(sync, 1, 8);
  }
  // another thread is finishing a block (µs). If it stalls (descheduled, or killed), leave: whoever packs the
  // last block also takes every row chunk left, and the pool's timeouts catch a thread that never returns.
  for (let spin = 0; atomic.load<i32>(sync, 8) < blocks; spin++) if (spin >= 1 << 26) return;
  const pa = scratch;
  const edge = pa + <usize>(MC * KC * 4);
  const ldcBytes = <usize>ldc * 4;
  for (;;) {
    const ic = atomic.add<i32>(sync, 1) * chunk;
    if (ic >= M) break;
    const mc = min(chunk, M - ic);
    const c = C + <usize>ic * ldcBytes;
    if (K == 0 || alpha == 0 || (beta != 0 && beta != 1)) scaleC(mc, N, beta, c, ldc);
    if (K == 0 || alpha == 0) continue;
    for (let jc = 0; jc < N; jc += NC) {
      const nc = min(NC, N - jc), ncp = (nc + NR - 1) / NR * NR;
      for (let pc = 0; pc < K; pc += KC) {
        const kc = min(KC, K - pc);
        packA(transA != 0, A, lda, ic, pc, mc, kc, alpha, pa);
        const pb = packed + (<usize>jc * <usize>K + <usize>ncp * <usize>pc) * 4;
        macroKernel(mc, nc, kc, pa, pb, c + <usize>(jc << 2), ldcBytes, edge, pc == 0 && beta == 0);
      }
    }
  }
}

// y[M] = alpha · op(A) x + beta · y with contiguous x, y; op(A) is M×K.
// trans = 0: A is M×K (row dots); trans = 1: A is stored K×M (row axpys). Bandwidth-bound.
export function sgemv(trans: i32, M: i32, K: i32, alpha: f32, A: usize, lda: i32, x: usize, beta: f32, y: usize): void {
  if (trans == 0) {
    for (let i = 0; i < M; i++) {
      const row = A + <usize>i * <usize>lda * 4;
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
      let k = 0;
      for (; k + 16 <= K; k += 16) {
        const o = <usize>(k << 2);
        s0 = f32x4.add(s0, f32x4.mul(v128.load(row + o), v128.load(x + o)));
        s1 = f32x4.add(s1, f32x4.mul(v128.load(row + o, 16), v128.load(x + o, 16)));
        s2 = f32x4.add(s2, f32x4.mul(v128.load(row + o, 32), v128.load(x + o, 32)));
        s3 = f32x4.add(s3, f32x4.mul(v128.load(row + o, 48), v128.load(x + o, 48)));
      }
      const v = f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3));
      let s = f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
      for (; k < K; k++) s += load<f32>(row + <usize>(k << 2)) * load<f32>(x + <usize>(k << 2));
      const p = y + <usize>(i << 2);
      store<f32>(p, alpha * s + (beta == 0 ? 0 : beta * load<f32>(p)));
    }
  } else {
    for (let i = 0; i < M; i++) {
      const p = y + <usize>(i << 2);
      store<f32>(p, beta == 0 ? 0 : beta * load<f32>(p));
    }
    for (let k = 0; k < K; k++) {
      const row = A + <usize>k * <usize>lda * 4;
      const a = alpha * load<f32>(x + <usize>(k << 2));
      if (a == 0) continue;
      const av = f32x4.splat(a);
      let i = 0;
      for (; i + 8 <= M; i += 8) {
        const o = <usize>(i << 2);
        v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(av, v128.load(row + o))));
        v128.store(y + o, f32x4.add(v128.load(y + o, 16), f32x4.mul(av, v128.load(row + o, 16))), 16);
      }
      for (; i < M; i++) store<f32>(y + <usize>(i << 2), load<f32>(y + <usize>(i << 2)) + a * load<f32>(row + <usize>(i << 2)));
    }
  }
}

// Gathers n floats at stride inc into dst (contiguous) so sgemv can stay on unit stride.
export function gatherStrided(n: i32, src: usize, inc: i32, dst: usize): void {
  for (let i = 0; i < n; i++) store<f32>(dst + <usize>(i << 2), load<f32>(src + <usize>i * <usize>inc * 4));
}

export function scatterStrided(n: i32, src: usize, dst: usize, inc: i32): void {
  for (let i = 0; i < n; i++) store<f32>(dst + <usize>i * <usize>inc * 4, load<f32>(src + <usize>(i << 2)));
}

// `count` independent GEMMs whose operands sit at fixed float strides (attention scores, batched matmul).
export function sgemmBatched(transA: i32, transB: i32, M: i32, N: i32, K: i32, alpha: f32,
                             A: usize, lda: i32, strideA: i32, B: usize, ldb: i32, strideB: i32,
                             beta: f32, C: usize, ldc: i32, strideC: i32, count: i32, scratch: usize): void {
  for (let b = 0; b < count; b++) {
    sgemm(transA, transB, M, N, K, alpha,
          A + <usize>b * <usize>strideA * 4, lda, B + <usize>b * <usize>strideB * 4, ldb,
          beta, C + <usize>b * <usize>strideC * 4, ldc, scratch);
  }
}
