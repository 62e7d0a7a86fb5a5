// AssemblyScript source, compiled by asc (scripts/build-wasm.mjs); tsconfig excludes this folder.
// Fused scaled-dot-product attention, forward and backward, blocked like FlashAttention-2 (Dao 2023): one
// work unit is a (batch, kv head) pair; its K and V are packed once ([S, Dp] and transposed [Dp, S]), then
// query blocks of QB rows of every query head of the group run as small register-tiled GEMMs:
//   forward   scores = Q Kᵀ → row softmax (saving logsumexp) → O = P V
//   backward  P = exp(scale·Q Kᵀ − lse), dP = dO Vᵀ, dS = P (dP − rowsum(dO⊙O)) · scale,
//             dQ = dS K, dK += dSᵀ Q, dV += Pᵀ dO
// Because a unit owns its kv head, dK/dV accumulate without races and dQ rows are written once.
// Layouts: layout 1 'bthd' — q/out [B, T, H, D], k/v [B, S, Hkv, D]; layout 0 'bhtd' — q [B, H, T, D],
// k/v [B, Hkv, S, D]. lse [B, H, T]. keyMask (0 = none) i32 [B, S], nonzero = attend.
// Causal: query i (of T, the last T of S positions) sees keys j ≤ i + S − T. A row with no visible key gets
// out 0 and lse +∞ (so P = 0 in the backward).
// Packed buffers are zero-padded to Dp = D rounded up to 8 and Sp = S rounded up to 8, so every micro-kernel
// works on whole 4×8 tiles with no edge code.
import { vexp, madd } from './vmath';

const QB = 32; // query rows per block (multiple of 4)

@inline function at(base: usize, i: i32): usize { return base + (<usize>i << 2); }
@inline function up8(n: i32): i32 { return (n + 7) & ~7; }

/** Bytes of per-worker scratch the kernels need for key length S and head dim D. */
export function attnScratchBytes(S: i32, D: i32): i32 {
  const Dp = up8(D), Sp = up8(S);
  return (6 * Sp * Dp + 3 * QB * Dp + 2 * QB * Sp + QB) * 4;
}

// dst[r, 0..Dp) = src row r (D floats, rows `stride` floats apart), zero-padded; rows n..nPad zero.
function packRows(src: usize, stride: i32, n: i32, D: i32, dst: usize, Dp: i32, nPad: i32): void {
  for (let r = 0; r < n; r++) {
    memory.copy(at(dst, r * Dp), at(src, r * stride), <usize>D << 2);
    if (Dp > D) memory.fill(at(dst, r * Dp + D), 0, <usize>(Dp - D) << 2);
  }
  if (nPad > n) memory.fill(at(dst, n * Dp), 0, <usize>((nPad - n) * Dp) << 2);
}

function unpackRows(src: usize, Dp: i32, n: i32, D: i32, dst: usize, stride: i32): void {
  for (let r = 0; r < n; r++) memory.copy(at(dst, r * stride), at(src, r * Dp), <usize>D << 2);
}

// dst [Dp, Sp] = srcᵀ for src [Sp, Dp] (padding already zero in src).
function transpose(src: usize, Sp: i32, Dp: i32, dst: usize): void {
  for (let j = 0; j < Sp; j++) for (let d = 0; d < Dp; d++) store<f32>(at(dst, d * Sp + j), load<f32>(at(src, j * Dp + d)));
}

// C[r, j] = Σ_{k<K} A[r, k] · B[k, j] for r < rows4 (multiple of 4), j < n8 (multiple of 8); A ld lda, B and C
// ld ldb. Scores are Q·Kᵀ with Kᵀ stored as B; outputs are P·V.
function mm(A: usize, lda: i32, rows4: i32, K: i32, B: usize, ldb: i32, n8: i32, C: usize): void {
  for (let r = 0; r < rows4; r += 4) {
    const a0 = at(A, r * lda), a1 = a0 + (<usize>lda << 2), a2 = a1 + (<usize>lda << 2), a3 = a2 + (<usize>lda << 2);
    for (let j = 0; j < n8; j += 8) {
      let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
      let b = at(B, j);
      for (let k = 0; k < K; k++) {
        const b0 = v128.load(b), b1 = v128.load(b, 16);
        const o = <usize>k << 2;
        const x0 = v128.load32_splat(a0 + o), x1 = v128.load32_splat(a1 + o);
        c00 = madd(x0, b0, c00); c01 = madd(x0, b1, c01);
        c10 = madd(x1, b0, c10); c11 = madd(x1, b1, c11);
        const x2 = v128.load32_splat(a2 + o), x3 = v128.load32_splat(a3 + o);
        c20 = madd(x2, b0, c20); c21 = madd(x2, b1, c21);
        c30 = madd(x3, b0, c30); c31 = madd(x3, b1, c31);
        b += <usize>ldb << 2;
      }
      const c = at(C, r * ldb + j), ld = <usize>ldb << 2;
      v128.store(c, c00); v128.store(c, c01, 16);
      v128.store(c + ld, c10); v128.store(c + ld, c11, 16);
      v128.store(c + 2 * ld, c20); v128.store(c + 2 * ld, c21, 16);
      v128.store(c + 3 * ld, c30); v128.store(c + 3 * ld, c31, 16);
    }
  }
}

// C[j, d] += Σ_{r<rows} P[r, j] · A[r, d] for j < n8, d < Dp; P ld Sp, A and C ld Dp.
function mmTN(P: usize, rows: i32, Sp: i32, n8: i32, A: usize, Dp: i32, C: usize): void {
  for (let j = 0; j < n8; j += 4) {
    for (let d = 0; d < Dp; d += 8) {
      const c = at(C, j * Dp + d), ld = <usize>Dp << 2;
      let c00 = v128.load(c), c01 = v128.load(c, 16), c10 = v128.load(c + ld), c11 = v128.load(c + ld, 16);
      let c20 = v128.load(c + 2 * ld), c21 = v128.load(c + 2 * ld, 16), c30 = v128.load(c + 3 * ld), c31 = v128.load(c + 3 * ld, 16);
      let p = at(P, j), a = at(A, d);
      for (let r = 0; r < rows; r++) {
        const a0 = v128.load(a), a1 = v128.load(a, 16);
        const x0 = v128.load32_splat(p), x1 = v128.load32_splat(p, 4);
        c00 = madd(x0, a0, c00); c01 = madd(x0, a1, c01);
        c10 = madd(x1, a0, c10); c11 = madd(x1, a1, c11);
        const x2 = v128.load32_splat(p, 8), x3 = v128.load32_splat(p, 12);
        c20 = madd(x2, a0, c20); c21 = madd(x2, a1, c21);
        c30 = madd(x3, a0, c30); c31 = madd(x3, a1, c31);
        p += <usize>Sp << 2;
        a += <usize>Dp << 2;
      }
      v128.store(c, c00); v128.store(c, c01, 16);
      v128.store(c + ld, c10); v128.store(c + ld, c11, 16);
      v128.store(c + 2 * ld, c20); v128.store(c + 2 * ld, c21, 16);
      v128.store(c + 3 * ld, c30); v128.store(c + 3 * ld, c31, 16);
    }
  }
}

// Scratch layout shared by both passes, in float offsets from the worker's scratch base:
// Kp, Vp, KT, VT, dK, dV (Sp·Dp each), then Qp, Gp (dO), Op (QB·Dp each), P, dS (QB·Sp each), Di (QB).
@inline function slot(scratch: usize, i: i32, Sp: i32, Dp: i32): usize {
  const kv = Sp * Dp, qb = QB * Dp;
  if (i < 6) return at(scratch, i * kv);
  if (i < 9) return at(scratch, 6 * kv + (i - 6) * qb);
  return at(scratch, 6 * kv + 3 * qb + (i - 9) * QB * Sp);
}

// Turns raw scores C (ld Sp) of rows i0..i0+nr into probabilities in place: scale, causal limit, key mask,
// then exp(s − lse_r). With `lse` = 0 the row max/sum are computed and lse written (forward, which also
// normalises); otherwise the saved lse is read (backward). Columns up to n8 are written (zero past the limit).
function probs(C: usize, Sp: i32, nr: i32, n8: i32, i0: i32, T: i32, S: i32, causal: i32, scale: f32,
               keyMask: usize, lse: usize, forward: bool): void {
  for (let r = 0; r < nr; r++) {
    const row = at(C, r * Sp);
    const lim = causal != 0 ? min(S, i0 + r + S - T + 1) : S;
    let mv = f32x4.splat(-Infinity);
    const limv = i32x4.splat(lim), ninf = f32x4.splat(-Infinity), sv = f32x4.splat(scale);
    let j = 0;
    for (; j + 4 <= n8 && (keyMask == 0 || j + 4 <= S); j += 4) {
      let keep = i32x4.lt_s(i32x4.add(i32x4.splat(j), i32x4(0, 1, 2, 3)), limv);
      if (keyMask != 0) keep = v128.and(keep, i32x4.ne(v128.load(at(keyMask, j)), i32x4.splat(0)));
      const s = v128.bitselect(f32x4.mul(v128.load(at(row, j)), sv), ninf, keep);
      v128.store(at(row, j), s);
      mv = f32x4.pmax(mv, s);
    }
    let m: f32 = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
    for (; j < n8; j++) {
      let s: f32 = -Infinity;
      if (j < lim && (keyMask == 0 || load<i32>(at(keyMask, j)) != 0)) s = load<f32>(at(row, j)) * scale;
      store<f32>(at(row, j), s);
      m = max(m, s);
    }
    let shift: f32;
    if (forward) shift = m;
    else shift = load<f32>(at(lse, i0 + r));
    if (shift == -Infinity || shift == Infinity) { memory.fill(row, 0, <usize>n8 << 2); if (forward) store<f32>(at(lse, i0 + r), Infinity); continue; }
    const shv = f32x4.splat(shift);
    let acc = f32x4.splat(0);
    for (let j = 0; j < n8; j += 4) {
      const e = vexp(f32x4.sub(v128.load(at(row, j)), shv));
      v128.store(at(row, j), e);
      acc = f32x4.add(acc, e);
    }
    if (forward) {
      const l = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
      store<f32>(at(lse, i0 + r), m + Mathf.log(l));
      const inv = f32x4.splat(<f32>1 / l);
      for (let j = 0; j < n8; j += 4) v128.store(at(row, j), f32x4.mul(v128.load(at(row, j)), inv));
    }
  }
}

// One query row (a decode step): scores are dot products against the K rows in place, the output a weighted
// sum of the V rows in place — no packing, no transposed K, no 4-row tiles three quarters empty. A causal
// single query is the last position, so it sees every key. P holds S scores, O accumulates Dp floats.
function decodeRow(qrow: usize, kBase: usize, vBase: usize, kStride: i32, S: i32, D: i32, scale: f32,
                   keyMask: usize, P: usize, O: usize, outRow: usize, lseAt: usize): void {
  const D4 = D & ~3;
  let m: f32 = -Infinity;
  for (let j = 0; j < S; j++) {
    let s: f32 = -Infinity;
    if (keyMask == 0 || load<i32>(at(keyMask, j)) != 0) {
      const krow = at(kBase, j * kStride);
      let acc = f32x4.splat(0);
      for (let d = 0; d < D4; d += 4) acc = madd(v128.load(at(qrow, d)), v128.load(at(krow, d)), acc);
      let dot = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
      for (let d = D4; d < D; d++) dot += load<f32>(at(qrow, d)) * load<f32>(at(krow, d));
      s = dot * scale;
    }
    store<f32>(at(P, j), s);
    m = max(m, s);
  }
  if (m == -Infinity) {
    memory.fill(outRow, 0, <usize>D << 2);
    store<f32>(lseAt, Infinity);
    return;
  }
  let sum: f32 = 0;
  for (let j = 0; j < S; j++) {
    const e = Mathf.exp(load<f32>(at(P, j)) - m);
    store<f32>(at(P, j), e);
    sum += e;
  }
  store<f32>(lseAt, m + Mathf.log(sum));
  memory.fill(O, 0, <usize>up8(D) << 2);
  for (let j = 0; j < S; j++) {
    const pj = load<f32>(at(P, j)) / sum;
    if (pj == 0) continue;
    const w = f32x4.splat(pj), vrow = at(vBase, j * kStride);
    for (let d = 0; d < D4; d += 4) v128.store(at(O, d), madd(w, v128.load(at(vrow, d)), v128.load(at(O, d))));
    for (let d = D4; d < D; d++) store<f32>(at(O, d), load<f32>(at(O, d)) + pj * load<f32>(at(vrow, d)));
  }
  memory.copy(outRow, O, <usize>D << 2);
}

@inline function qBase(layout: i32, b: i32, h: i32, T: i32, H: i32, D: i32): usize {
  return <usize>(layout == 1 ? (b * T * H + h) * D : (b * H + h) * T * D) << 2;
}

export function attnFwd(u0: i32, u1: i32, B: i32, T: i32, S: i32, H: i32, Hkv: i32, D: i32, scale: f32, causal: i32, layout: i32,
                        q: usize, k: usize, v: usize, keyMask: usize, out: usize, lse: usize, scratch: usize): void {
  const Dp = up8(D), Sp = up8(S), group = H / Hkv;
  const Kp = slot(scratch, 0, Sp, Dp), Vp = slot(scratch, 1, Sp, Dp), KT = slot(scratch, 2, Sp, Dp), VT = slot(scratch, 3, Sp, Dp);
  const dK = slot(scratch, 4, Sp, Dp), dV = slot(scratch, 5, Sp, Dp), Qp = slot(scratch, 6, Sp, Dp), Gp = slot(scratch, 7, Sp, Dp);
  const Op = slot(scratch, 8, Sp, Dp), P = slot(scratch, 9, Sp, Dp), dS = slot(scratch, 10, Sp, Dp), Di = slot(scratch, 11, Sp, Dp);
  const qStride = layout == 1 ? H * D : D, kStride = layout == 1 ? Hkv * D : D;
  for (let u = u0; u < u1; u++) {
    const b = u / Hkv, kvh = u % Hkv;
    const kvOff = qBase(layout, b, kvh, S, Hkv, D);
    const km: usize = keyMask == 0 ? <usize>0 : at(keyMask, b * S);
    if (T == 1) {
      for (let g = 0; g < group; g++) {
        const h = kvh * group + g, qOff = qBase(layout, b, h, T, H, D);
        decodeRow(q + qOff, k + kvOff, v + kvOff, kStride, S, D, scale, km, P, Op, out + qOff, at(lse, b * H + h));
      }
      continue;
    }
    packRows(k + kvOff, kStride, S, D, Kp, Dp, Sp);
    packRows(v + kvOff, kStride, S, D, Vp, Dp, Sp);
    transpose(Kp, Sp, Dp, KT);
    for (let g = 0; g < group; g++) {
      const h = kvh * group + g;
      const qOff = qBase(layout, b, h, T, H, D);
      const lrow = at(lse, (b * H + h) * T);
      for (let i0 = 0; i0 < T; i0 += QB) {
        const nr = min(QB, T - i0), rows4 = (nr + 3) & ~3;
        const jEnd = causal != 0 ? min(S, i0 + nr + S - T) : S, n8 = up8(jEnd);
        packRows(q + qOff + (<usize>(i0 * qStride) << 2), qStride, nr, D, Qp, Dp, rows4);
        mm(Qp, Dp, rows4, Dp, KT, Sp, n8, P);
        probs(P, Sp, nr, n8, i0, T, S, causal, scale, km, lrow, true);
        if (rows4 > nr) memory.fill(at(P, nr * Sp), 0, <usize>((rows4 - nr) * Sp) << 2);
        mm(P, Sp, rows4, jEnd, Vp, Dp, Dp, Op);
        unpackRows(Op, Dp, nr, D, out + qOff + (<usize>(i0 * qStride) << 2), qStride);
      }
    }
  }
}

export function attnBwd(u0: i32, u1: i32, B: i32, T: i32, S: i32, H: i32, Hkv: i32, D: i32, scale: f32, causal: i32, layout: i32,
                        q: usize, k: usize, v: usize, keyMask: usize, out: usize, lse: usize, dout: usize,
                        dq: usize, dk: usize, dv: usize, scratch: usize): void {
  const Dp = up8(D), Sp = up8(S), group = H / Hkv;
  const Kp = slot(scratch, 0, Sp, Dp), Vp = slot(scratch, 1, Sp, Dp), KT = slot(scratch, 2, Sp, Dp), VT = slot(scratch, 3, Sp, Dp);
  const dK = slot(scratch, 4, Sp, Dp), dV = slot(scratch, 5, Sp, Dp), Qp = slot(scratch, 6, Sp, Dp), Gp = slot(scratch, 7, Sp, Dp);
  const Op = slot(scratch, 8, Sp, Dp), P = slot(scratch, 9, Sp, Dp), dS = slot(scratch, 10, Sp, Dp), Di = slot(scratch, 11, Sp, Dp);
  const qStride = layout == 1 ? H * D : D, kStride = layout == 1 ? Hkv * D : D;
  for (let u = u0; u < u1; u++) {
    const b = u / Hkv, kvh = u % Hkv;
    const kvOff = qBase(layout, b, kvh, S, Hkv, D);
    packRows(k + kvOff, kStride, S, D, Kp, Dp, Sp);
    packRows(v + kvOff, kStride, S, D, Vp, Dp, Sp);
    transpose(Kp, Sp, Dp, KT);
    transpose(Vp, Sp, Dp, VT);
    memory.fill(dK, 0, <usize>(2 * Sp * Dp) << 2); // dK and dV are adjacent
    const km: usize = keyMask == 0 ? <usize>0 : at(keyMask, b * S);
    for (let g = 0; g < group; g++) {
      const h = kvh * group + g;
      const qOff = qBase(layout, b, h, T, H, D);
      const lrow = at(lse, (b * H + h) * T);
      for (let i0 = 0; i0 < T; i0 += QB) {
        const nr = min(QB, T - i0), rows4 = (nr + 3) & ~3;
        const jEnd = causal != 0 ? min(S, i0 + nr + S - T) : S, n8 = up8(jEnd);
        const rowOff = qOff + (<usize>(i0 * qStride) << 2);
        packRows(q + rowOff, qStride, nr, D, Qp, Dp, rows4);
        packRows(dout + rowOff, qStride, nr, D, Gp, Dp, rows4);
        packRows(out + rowOff, qStride, nr, D, Op, Dp, rows4);
        for (let r = 0; r < nr; r++) {
          let acc = f32x4.splat(0);
          const gr = at(Gp, r * Dp), orow = at(Op, r * Dp);
          for (let d = 0; d < Dp; d += 4) acc = madd(v128.load(at(gr, d)), v128.load(at(orow, d)), acc);
          store<f32>(at(Di, r), f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
        }
        mm(Qp, Dp, rows4, Dp, KT, Sp, n8, P);
        probs(P, Sp, nr, n8, i0, T, S, causal, scale, km, lrow, false);
        mm(Gp, Dp, rows4, Dp, VT, Sp, n8, dS);
        for (let r = 0; r < nr; r++) {
          const pr = at(P, r * Sp), dr = at(dS, r * Sp);
          const di = f32x4.splat(load<f32>(at(Di, r))), sv = f32x4.splat(scale);
          for (let j = 0; j < n8; j += 4) {
            v128.store(at(dr, j), f32x4.mul(f32x4.mul(v128.load(at(pr, j)), f32x4.sub(v128.load(at(dr, j)), di)), sv));
          }
        }
        if (rows4 > nr) {
          memory.fill(at(P, nr * Sp), 0, <usize>((rows4 - nr) * Sp) << 2);
          memory.fill(at(dS, nr * Sp), 0, <usize>((rows4 - nr) * Sp) << 2);
        }
        mm(dS, Sp, rows4, jEnd, Kp, Dp, Dp, Op);
        unpackRows(Op, Dp, nr, D, dq + rowOff, qStride);
        mmTN(P, nr, Sp, n8, Gp, Dp, dV);
        mmTN(dS, nr, Sp, n8, Qp, Dp, dK);
      }
    }
    unpackRows(dK, Dp, S, D, dk + kvOff, kStride);
    unpackRows(dV, Dp, S, D, dv + kvOff, kStride);
  }
}

// ---- Rows of materialised scores, for attention built from GEMMs (the blas backend, pool-ops.mjs) ----
// x is a [T, S] block for one query head: row i is query i, which sees key j when j ≤ i + shift (causal; shift
// = S − T) and keyMask[j] ≠ 0 (keyMask 0 = every key). Masked and unseen entries come out 0.

// Entries of row i the causal limit leaves visible; masked keys among them are set to −∞.
function visible(x: usize, i: i32, S: i32, causal: i32, shift: i32, keyMask: usize): i32 {
  const n = causal ? min(S, max(0, i + shift + 1)) : S;
  if (keyMask) for (let j = 0; j < n; j++) if (load<i32>(at(keyMask, j)) == 0) store<f32>(at(x, j), -Infinity);
  return n;
}

/** In place: row softmax of scale·x with the masks; lse[i] = logsumexp of the row (+∞ when no key is visible). */
export function attnSoftmaxRows(T: i32, S: i32, x: usize, scale: f32, causal: i32, shift: i32, keyMask: usize, lse: usize): void {
  for (let i = 0; i < T; i++) {
    const row = at(x, i * S);
    const n = visible(row, i, S, causal, shift, keyMask);
    let mv = f32x4.splat(-Infinity);
    let j = 0;
    for (; j + 4 <= n; j += 4) mv = f32x4.pmax(mv, v128.load(at(row, j)));
    let m = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
    for (; j < n; j++) m = max(m, load<f32>(at(row, j)));
    if (m == -Infinity) {
      memory.fill(row, 0, <usize>S << 2);
      store<f32>(at(lse, i), Infinity);
      continue;
    }
    const sv = f32x4.splat(scale), nshift = f32x4.splat(-m * scale);
    let acc = f32x4.splat(0);
    j = 0;
    for (; j + 4 <= n; j += 4) {
      const e = vexp(madd(v128.load(at(row, j)), sv, nshift));
      v128.store(at(row, j), e);
      acc = f32x4.add(acc, e);
    }
    let sum = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
    for (; j < n; j++) {
      const e = f32x4.extract_lane(vexp(f32x4.splat(load<f32>(at(row, j)) * scale - m * scale)), 0);
      store<f32>(at(row, j), e);
      sum += e;
    }
    const inv = f32x4.splat(<f32>1 / sum);
    j = 0;
    for (; j + 4 <= n; j += 4) v128.store(at(row, j), f32x4.mul(v128.load(at(row, j)), inv));
    for (; j < n; j++) store<f32>(at(row, j), load<f32>(at(row, j)) / sum);
    if (n < S) memory.fill(at(row, n), 0, <usize>(S - n) << 2);
    store<f32>(at(lse, i), m * scale + Mathf.log(sum));
  }
}

/**
 * The backward's rows: from raw scores s = q·kᵀ and dp = dO·vᵀ ([T, S] each), in place: s ← P = exp(scale·s − lse)
 * (masked 0) and dp ← dS = scale · P ⊙ (dp − δ), δ_i = ⟨dO_i, O_i⟩ (rows ldo floats apart, D long).
 */
export function attnGradRows(T: i32, S: i32, s: usize, dp: usize, scale: f32, causal: i32, shift: i32, keyMask: usize, lse: usize,
                             dO: usize, O: usize, ldo: i32, D: i32): void {
  for (let i = 0; i < T; i++) {
    const prow = at(s, i * S), grow = at(dp, i * S);
    const l = load<f32>(at(lse, i));
    const n = l == Infinity ? 0 : visible(prow, i, S, causal, shift, keyMask);
    const orow = at(O, i * ldo), dorow = at(dO, i * ldo);
    let dv = f32x4.splat(0);
    let d = 0;
    for (; d + 4 <= D; d += 4) dv = f32x4.add(dv, f32x4.mul(v128.load(at(orow, d)), v128.load(at(dorow, d))));
    let delta = f32x4.extract_lane(dv, 0) + f32x4.extract_lane(dv, 1) + f32x4.extract_lane(dv, 2) + f32x4.extract_lane(dv, 3);
    for (; d < D; d++) delta += load<f32>(at(orow, d)) * load<f32>(at(dorow, d));
    const sv = f32x4.splat(scale), nl = f32x4.splat(-l), deltav = f32x4.splat(delta);
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const p = vexp(madd(v128.load(at(prow, j)), sv, nl));
      v128.store(at(prow, j), p);
      v128.store(at(grow, j), f32x4.mul(f32x4.mul(p, f32x4.sub(v128.load(at(grow, j)), deltav)), sv));
    }
    for (; j < n; j++) {
      const p = f32x4.extract_lane(vexp(f32x4.splat(load<f32>(at(prow, j)) * scale - l)), 0);
      store<f32>(at(prow, j), p);
      store<f32>(at(grow, j), p * (load<f32>(at(grow, j)) - delta) * scale);
    }
    if (n < S) {
      memory.fill(at(prow, n), 0, <usize>(S - n) << 2);
      memory.fill(at(grow, n), 0, <usize>(S - n) << 2);
    }
  }
}
