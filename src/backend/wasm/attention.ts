// Fused attention on the wasm backend (assembly/attention.ts): a blocked forward that saves logsumexp and the
// matching FlashAttention-2-style backward, both as register-tiled SIMD GEMMs per (batch, kv head) unit.
// Shapes (B batch, T queries, S keys, H query heads, Hkv kv heads, D head dim), layout 'bthd' (default):
// q, out, dout, dq [B, T, H, D]; k, v, dk, dv [B, S, Hkv, D]; layout 'bhtd': [B, H, T, D] and [B, Hkv, S, D].
// lse [B, H, T]; keyMask i32 [B, S] (nonzero = attend, for padding). Causal masking aligns the T queries with
// the last T keys (KV-cache decode).
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
  /** default 'bthd' */
  layout?: 'bthd' | 'bhtd';
  /** default 1/√D */
  scale?: number;
}

export function checkAttentionShape(s: AttentionShape): void {
  for (const key of ['B', 'T', 'S', 'H', 'Hkv', 'D'] as const) {
    if (!Number.isInteger(s[key]) || s[key] < 1) throw new Error(`attention: ${key} must be a positive integer, got ${s[key]}`);
  }
  if (s.H % s.Hkv !== 0) throw new Error(`attention: H=${s.H} is not a multiple of Hkv=${s.Hkv}`);
  if (s.causal && s.T > s.S) throw new Error(`attention: causal needs T <= S, got T=${s.T}, S=${s.S}`);
}

// Per-worker attention scratch (here packed K, V and their transposes and query-block tiles; the blas backend's
// materialised scores), at least `bytes` a worker, grown on demand and kept per runtime.
const scratches = new WeakMap<WasmRuntime, { bytes: number; ptrs: number[] }>();
export function attentionScratch(rt: WasmRuntime, bytes: number): number[] {
  let sc = scratches.get(rt);
  if (!sc || sc.bytes < bytes) {
    if (sc) for (const p of sc.ptrs) rt.heap.free(p);
    sc = { bytes, ptrs: Array.from({ length: rt.threads }, () => rt.heap.allocBytes(bytes)) };
    scratches.set(rt, sc);
  }
  return sc.ptrs;
}

function units(rt: WasmRuntime, s: AttentionShape, flopsPerScore: number): Array<[number, number]> {
  return splitRange(rt, s.B * s.Hkv, 1, flopsPerScore * s.B * s.H * s.T * s.S * s.D);
}

const layoutCode = (s: AttentionShape): number => (s.layout === 'bhtd' ? 0 : 1);

function maskPtr(rt: WasmRuntime, kernel: string, s: AttentionShape, keyMask: Int32Array | undefined): number {
  return keyMask === undefined ? 0 : ptrOf(rt, kernel, 'keyMask', keyMask, s.B * s.S);
}

/** out = softmax(q kᵀ · scale + mask) v per head; lse receives the row logsumexp (+∞ for a fully masked row). */
export function attentionFwd(rt: WasmRuntime, s: AttentionShape, q: F32, k: F32, v: F32, out: F32, lse: F32, keyMask?: Int32Array): void {
  checkAttentionShape(s);
  const kn = 'attentionFwd', nq = s.B * s.T * s.H * s.D, nk = s.B * s.S * s.Hkv * s.D;
  const args = [s.B, s.T, s.S, s.H, s.Hkv, s.D, s.scale ?? 1 / Math.sqrt(s.D), s.causal ? 1 : 0, layoutCode(s),
    ptrOf(rt, kn, 'q', q, nq), ptrOf(rt, kn, 'k', k, nk), ptrOf(rt, kn, 'v', v, nk), maskPtr(rt, kn, s, keyMask),
    ptrOf(rt, kn, 'out', out, nq), ptrOf(rt, kn, 'lse', lse, s.B * s.H * s.T)];
  const scratch = attentionScratch(rt, rt.fn.attnScratchBytes!(s.S, s.D));
  rt.pool.run('attnFwd', units(rt, s, 4).map(([u0, u1], w) => [u0, u1, ...args, scratch[w]!]));
}

/** dq, dk, dv (overwritten) from dout and the forward's out and lse. Split across workers by (batch, kv head). */
export function attentionBwd(rt: WasmRuntime, s: AttentionShape, q: F32, k: F32, v: F32, out: F32, lse: F32, dout: F32,
                             dq: F32, dk: F32, dv: F32, keyMask?: Int32Array): void {
  checkAttentionShape(s);
  const kn = 'attentionBwd', nq = s.B * s.T * s.H * s.D, nk = s.B * s.S * s.Hkv * s.D;
  const args = [s.B, s.T, s.S, s.H, s.Hkv, s.D, s.scale ?? 1 / Math.sqrt(s.D), s.causal ? 1 : 0, layoutCode(s),
    ptrOf(rt, kn, 'q', q, nq), ptrOf(rt, kn, 'k', k, nk), ptrOf(rt, kn, 'v', v, nk), maskPtr(rt, kn, s, keyMask),
    ptrOf(rt, kn, 'out', out, nq), ptrOf(rt, kn, 'lse', lse, s.B * s.H * s.T), ptrOf(rt, kn, 'dout', dout, nq),
    ptrOf(rt, kn, 'dq', dq, nq), ptrOf(rt, kn, 'dk', dk, nk), ptrOf(rt, kn, 'dv', dv, nk)];
  const scratch = attentionScratch(rt, rt.fn.attnScratchBytes!(s.S, s.D));
  rt.pool.run('attnBwd', units(rt, s, 10).map(([u0, u1], w) => [u0, u1, ...args, scratch[w]!]));
}
