// Fused causal attention on the wasm backend (assembly/attention.ts): FlashAttention-style forward that saves
// logsumexp, and the matching backward. Shapes (B batch, T queries, S keys, H query heads, Hkv kv heads, D head
// dim): q, out, dout, dq [B, T, H, D]; k, v, dk, dv [B, S, Hkv, D]; lse [B, H, T]; keyMask i32 [B, S]
// (nonzero = attend, for padding). Causal masking aligns the T queries with the last T keys (KV-cache decode).
import { ptrOf, splitRange, type WasmRuntime } from './runtime.ts';

type F32 = Float32Array;

export interface AttentionShape {
  B: number;
  T: number;
  S: number;
  H: number;
  Hkv: number;
  D: number;
  causal: boolean;
  /** default 1/√D */
  scale?: number;
}

function check(s: AttentionShape): void {
  for (const key of ['B', 'T', 'S', 'H', 'Hkv', 'D'] as const) {
    if (!Number.isInteger(s[key]) || s[key] < 1) throw new Error(`attention: ${key} must be a positive integer, got ${s[key]}`);
  }
  if (s.H % s.Hkv !== 0) throw new Error(`attention: H=${s.H} is not a multiple of Hkv=${s.Hkv}`);
  if (s.causal && s.T > s.S) throw new Error(`attention: causal needs T <= S, got T=${s.T}, S=${s.S}`);
  if (s.D * 4 + 256 > 64 * 1024) throw new Error(`attention: D=${s.D} too large for the scratch`);
}

function maskPtr(rt: WasmRuntime, kernel: string, s: AttentionShape, keyMask: Int32Array | undefined): number {
  return keyMask === undefined ? 0 : ptrOf(rt, kernel, 'keyMask', keyMask, s.B * s.S);
}

/** out = softmax(q kᵀ · scale + mask) v per head; lse receives the row logsumexp (+∞ for a fully masked row). */
export function attentionFwd(rt: WasmRuntime, s: AttentionShape, q: F32, k: F32, v: F32, out: F32, lse: F32, keyMask?: Int32Array): void {
  check(s);
  const kn = 'attentionFwd', nq = s.B * s.T * s.H * s.D, nk = s.B * s.S * s.Hkv * s.D;
  const args = [s.B, s.T, s.S, s.H, s.Hkv, s.D, s.scale ?? 1 / Math.sqrt(s.D), s.causal ? 1 : 0,
    ptrOf(rt, kn, 'q', q, nq), ptrOf(rt, kn, 'k', k, nk), ptrOf(rt, kn, 'v', v, nk), maskPtr(rt, kn, s, keyMask),
    ptrOf(rt, kn, 'out', out, nq), ptrOf(rt, kn, 'lse', lse, s.B * s.H * s.T)];
  const work = 4 * s.B * s.H * s.T * s.S * s.D;
  const nw = splitRange(rt, s.B * s.H * s.T, 16, work).length;
  // the kernel's scratch region sits after the GEMM packing buffers of each worker
  rt.pool.run('attnFwd', Array.from({ length: nw }, (_, w) => [w, nw, ...args, rt.scratch[w]! + rt.scratchBytes - 64 * 1024]));
}

/** dq, dk, dv (overwritten) from dout and the forward's out and lse. Split across workers by (batch, kv head). */
export function attentionBwd(rt: WasmRuntime, s: AttentionShape, q: F32, k: F32, v: F32, out: F32, lse: F32, dout: F32,
                             dq: F32, dk: F32, dv: F32, keyMask?: Int32Array): void {
  check(s);
  const kn = 'attentionBwd', nq = s.B * s.T * s.H * s.D, nk = s.B * s.S * s.Hkv * s.D;
  const args = [s.B, s.T, s.S, s.H, s.Hkv, s.D, s.scale ?? 1 / Math.sqrt(s.D), s.causal ? 1 : 0,
    ptrOf(rt, kn, 'q', q, nq), ptrOf(rt, kn, 'k', k, nk), ptrOf(rt, kn, 'v', v, nk), maskPtr(rt, kn, s, keyMask),
    ptrOf(rt, kn, 'out', out, nq), ptrOf(rt, kn, 'lse', lse, s.B * s.H * s.T), ptrOf(rt, kn, 'dout', dout, nq),
    ptrOf(rt, kn, 'dq', dq, nq), ptrOf(rt, kn, 'dk', dk, nk), ptrOf(rt, kn, 'dv', dv, nk)];
  const units = s.B * s.Hkv;
  rt.pool.run('attnBwd', splitRange(rt, units, 1, 8 * s.B * s.H * s.T * s.S * s.D).map(([u0, u1]) => [u0, u1, ...args]));
}
