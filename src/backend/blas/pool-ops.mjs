// JS ops for the wasm worker pool (pool.ts loadOps): single-threaded CBLAS sgemm calls on operands in the shared
// wasm memory, so a GEMM is split across tessera's own spinning workers instead of OpenBLAS's thread pool, whose
// threads sleep between calls and cost ~0.2 ms to wake on this VM (a 384×128×128 product took 0.55 ms inside a
// training step against 0.10 ms in a loop). Plain JS so it loads in a Worker without a TypeScript loader.
// The library is already loaded (and OpenBLAS's kernel family chosen) by the main thread; dlopen shares it.
import koffi from 'koffi';

const ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;
let sgemm = null;
let memory = null;
let wasm = null;
let f32 = new Float32Array(0);
let i32 = new Int32Array(0);

export function init({ memory: m, exports, config }) {
  memory = m;
  wasm = exports;
  const lib = koffi.load(config.library);
  sgemm = lib.func('void cblas_sgemm(int, int, int, int, int, int, float, const float *, int, const float *, int, float, _Inout_ float *, int)');
}

function heap() {
  // the shared memory may have grown since the last call; a view made before growth stops at the old size
  if (f32.buffer !== memory.buffer) {
    f32 = new Float32Array(memory.buffer);
    i32 = new Int32Array(memory.buffer);
  }
  return f32;
}

// Work is handed out in chunks from a shared counter (an i32 at byte offset `counter`, zeroed by the caller), so
// a thread that runs slower (this VM's second vCPU ran the same sgemm ~20% slower) takes fewer chunks instead of
// keeping the other waiting. counter 0: this thread alone, every chunk in order.
function* chunks(counter, n) {
  if (counter === 0) {
    for (let i = 0; i < n; i++) yield i;
    return;
  }
  for (let i = Atomics.add(i32, counter >>> 2, 1); i < n; i = Atomics.add(i32, counter >>> 2, 1)) yield i;
}

/** Elements an operand of rows × cols spans from its first element (see gemm-layout.ts). */
function span(trans, ld, rows, cols) {
  return trans ? (cols - 1) * ld + rows : (rows - 1) * ld + cols;
}

/** C (M × N at element c, ld ldc) = alpha · op(A) op(B) + beta · C, operands given by element offsets. */
function gemm(h, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc) {
  sgemm(ROW_MAJOR, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, M, N, K, alpha, h.subarray(a, a + span(ta, lda, M, K)), lda,
    h.subarray(b, b + span(tb, ldb, K, N)), ldb, beta, h.subarray(c, c + span(0, ldc, M, N)), ldc);
}

// Attention from GEMMs, per (batch, kv head) unit: for each query head of the unit's group the [T, S] scores are
// materialised in this worker's scratch (2·T·S floats at byte offset `scratch`), so a unit owns its dK/dV rows.
// Layout 1 'bthd': q/out/dq [B, T, H, D], k/v/dk/dv [B, S, Hkv, D]; layout 0 'bhtd': [B, H, T, D], [B, Hkv, S, D].
// Pointers are byte offsets into the shared memory (as for the wasm kernels); keyMask 0 = none, else i32 [B, S].
function heads(B, T, S, H, Hkv, D, layout) {
  return layout === 1
    ? { q: (b, h) => (b * T * H + h) * D, ldq: H * D, k: (b, g) => (b * S * Hkv + g) * D, ldk: Hkv * D }
    : { q: (b, h) => (b * H + h) * T * D, ldq: D, k: (b, g) => (b * Hkv + g) * S * D, ldk: D };
}

/**
 * Query rows per block: causal attention splits its T rows into blocks of about 32, each multiplied against only
 * the keys it can see (about half the score products); without the mask, one block of all T rows.
 */
function causalBlock(causal, T) {
  return causal && T >= 64 ? Math.ceil(T / Math.floor(T / 32)) : T; // T >= 1 (checkAttentionShape)
}

export const ops = {
  /**
   * `count` products C_i = op(A_i) op(B_i) (C overwritten), operands at element offsets a + i·sa, b + i·sb,
   * c + i·sc of the shared memory, row-major with leading dimensions lda, ldb, ldc, in `n` chunks of `per`
   * matrices (mode 0), rows (1), columns (2) or steps of K (3: count 1; chunk 0 writes C, chunk i > 0 the
   * M × N partial at element offset partials + (i − 1)·M·N, which the caller adds).
   */
  blasSgemm(ta, tb, M, N, K, a, lda, b, ldb, c, ldc, count, sa, sb, sc, mode, per, n, counter, partials) {
    const h = heap();
    for (const i of chunks(counter, n)) {
      const lo = i * per;
      if (mode === 0) {
        for (let j = lo; j < Math.min(count, lo + per); j++) gemm(h, ta, tb, M, N, K, 1, a + j * sa, lda, b + j * sb, ldb, 0, c + j * sc, ldc);
      } else if (mode === 1) {
        const m = Math.min(M, lo + per) - lo, ao = lo * (ta ? 1 : lda);
        for (let j = 0; j < count; j++) gemm(h, ta, tb, m, N, K, 1, a + j * sa + ao, lda, b + j * sb, ldb, 0, c + j * sc + lo * ldc, ldc);
      } else if (mode === 2) {
        const w = Math.min(N, lo + per) - lo, bo = lo * (tb ? ldb : 1);
        for (let j = 0; j < count; j++) gemm(h, ta, tb, M, w, K, 1, a + j * sa, lda, b + j * sb + bo, ldb, 0, c + j * sc + lo, ldc);
      } else {
        const k = Math.min(K, lo + per) - lo;
        gemm(h, ta, tb, M, N, k, 1, a + lo * (ta ? lda : 1), lda, b + lo * (tb ? 1 : ldb), ldb, 0, i === 0 ? c : partials + (i - 1) * M * N, ldc);
      }
    }
    return 0;
  },

  /** out = softmax(scale·q kᵀ + masks) v and lse [B, H, T], over the B·Hkv units of (batch, kv head). */
  blasAttnFwd(counter, B, T, S, H, Hkv, D, scale, causal, layout, q, k, v, keyMask, out, lse, scratch) {
    const h32 = heap(), L = heads(B, T, S, H, Hkv, D, layout), r = H / Hkv, sc = scratch >>> 2, shift = S - T;
    const q0 = q >>> 2, k0 = k >>> 2, v0 = v >>> 2, o0 = out >>> 2, per = causalBlock(causal, T);
    for (const u of chunks(counter, B * Hkv)) {
      const b = Math.floor(u / Hkv), g = u % Hkv, ko = L.k(b, g);
      for (let j = 0; j < r; j++) {
        const h = g * r + j, qo = L.q(b, h);
        // query rows in blocks; under the causal mask a block sees only the keys before its last row
        for (let r0 = 0; r0 < T; r0 += per) {
          const rows = Math.min(per, T - r0), kv = causal ? Math.min(S, r0 + rows + shift) : S, qr = qo + r0 * L.ldq;
          gemm(h32, 0, 1, rows, kv, D, 1, q0 + qr, L.ldq, k0 + ko, L.ldk, 0, sc + r0 * S, S);
          wasm.attnSoftmaxRows(rows, S, scratch + 4 * r0 * S, scale, causal, shift + r0, keyMask ? keyMask + 4 * b * S : 0, lse + 4 * ((b * H + h) * T + r0));
          gemm(h32, 0, 0, rows, D, kv, 1, sc + r0 * S, S, v0 + ko, L.ldk, 0, o0 + qr, L.ldq);
        }
      }
    }
    return 0;
  },

  /** dq, dk, dv (overwritten) over the B·Hkv units, recomputing P from q, k and lse. */
  blasAttnBwd(counter, B, T, S, H, Hkv, D, scale, causal, layout, q, k, v, keyMask, out, lse, dout, dq, dk, dv, scratch) {
    const h32 = heap(), L = heads(B, T, S, H, Hkv, D, layout), r = H / Hkv, shift = S - T;
    const p = scratch >>> 2, ds = p + T * S, dsBytes = scratch + 4 * T * S, per = causalBlock(causal, T);
    const q0 = q >>> 2, k0 = k >>> 2, v0 = v >>> 2, do0 = dout >>> 2, dq0 = dq >>> 2, dk0 = dk >>> 2, dv0 = dv >>> 2;
    for (const u of chunks(counter, B * Hkv)) {
      const b = Math.floor(u / Hkv), g = u % Hkv, ko = L.k(b, g);
      for (let j = 0; j < r; j++) {
        const h = g * r + j, qo = L.q(b, h);
        // blocks of query rows, last first: the last block sees every key, so it starts dk and dv (beta 0) for
        // the group's first head, and the earlier blocks, which see fewer keys under the causal mask, add to them
        for (let r0 = Math.floor((T - 1) / per) * per; r0 >= 0; r0 -= per) {
          const rows = Math.min(per, T - r0), kv = causal ? Math.min(S, r0 + rows + shift) : S, qr = qo + r0 * L.ldq;
          const pr = p + r0 * S, dr = ds + r0 * S, beta = j === 0 && r0 + rows === T ? 0 : 1;
          gemm(h32, 0, 1, rows, kv, D, 1, q0 + qr, L.ldq, k0 + ko, L.ldk, 0, pr, S);
          gemm(h32, 0, 1, rows, kv, D, 1, do0 + qr, L.ldq, v0 + ko, L.ldk, 0, dr, S);
          wasm.attnGradRows(rows, S, scratch + 4 * r0 * S, dsBytes + 4 * r0 * S, scale, causal, shift + r0, keyMask ? keyMask + 4 * b * S : 0,
            lse + 4 * ((b * H + h) * T + r0), dout + 4 * qr, out + 4 * qr, L.ldq, D);
          gemm(h32, 1, 0, kv, D, rows, 1, pr, S, do0 + qr, L.ldq, beta, dv0 + ko, L.ldk);
          gemm(h32, 0, 0, rows, D, kv, 1, dr, S, k0 + ko, L.ldk, 0, dq0 + qr, L.ldq);
          gemm(h32, 1, 0, kv, D, rows, 1, dr, S, q0 + qr, L.ldq, beta, dk0 + ko, L.ldk);
        }
      }
    }
    return 0;
  },
};
