// Attention from BLAS GEMMs for the blas backend (the JS ops blasAttnFwd / blasAttnBwd of pool-ops.mjs): per
// query head the [T, S] scores are materialised in per-worker scratch, q·kᵀ and P·v run through sgemm, and the
// softmax rows (and the backward's dS rows) through the wasm row kernels attnSoftmaxRows / attnGradRows. Same
// contract as the fused wasm kernels (wasm/attention.ts: layouts, causal alignment, key mask, lse), so the
// wasm backend's staging and mask handling wrap both. The fused kernel's tiles reach ~12–16 GFLOP/s at the
// head dim 32 of the demo model; OpenBLAS runs these products (180×180×32 and the like) at 85–95 on one thread.
// Scratch grows with T·S per worker (2 · T · S floats), which is fine at the sequence lengths this path serves.
import { ptrOf, splitRange, type WasmRuntime } from '../wasm/runtime.ts';
import { attentionScratch, checkAttentionShape, type AttentionShape } from '../wasm/attention.ts';
import { chunkCounter } from './chunks.ts';

type F32 = Float32Array;

function args(rt: WasmRuntime, kn: string, s: AttentionShape, q: F32, k: F32, v: F32, keyMask: Int32Array | undefined): number[] {
  const nq = s.B * s.T * s.H * s.D, nk = s.B * s.S * s.Hkv * s.D;
  return [s.B, s.T, s.S, s.H, s.Hkv, s.D, s.scale ?? 1 / Math.sqrt(s.D), s.causal ? 1 : 0, s.layout === 'bhtd' ? 0 : 1,
    ptrOf(rt, kn, 'q', q, nq), ptrOf(rt, kn, 'k', k, nk), ptrOf(rt, kn, 'v', v, nk), keyMask === undefined ? 0 : ptrOf(rt, kn, 'keyMask', keyMask, s.B * s.S)];
}

/** Runs `op` over the (batch, kv head) units, claimed one at a time by the pool's threads, each with 2·T·S floats of scratch. */
function runUnits(rt: WasmRuntime, op: string, s: AttentionShape, flopsPerScore: number, jobArgs: number[]): void {
  const threads = splitRange(rt, s.B * s.Hkv, 1, flopsPerScore * s.B * s.H * s.T * s.S * s.D).length;
  const scratch = attentionScratch(rt, 8 * s.T * s.S);
  const counter = threads === 1 ? 0 : chunkCounter(rt);
  rt.pool.run(op, scratch.slice(0, threads).map((sc) => [counter, ...jobArgs, sc]));
}

export function blasAttentionFwd(rt: WasmRuntime, s: AttentionShape, q: F32, k: F32, v: F32, out: F32, lse: F32, keyMask?: Int32Array): void {
  checkAttentionShape(s);
  const kn = 'blasAttentionFwd', nq = s.B * s.T * s.H * s.D;
  runUnits(rt, 'blasAttnFwd', s, 4, [...args(rt, kn, s, q, k, v, keyMask), ptrOf(rt, kn, 'out', out, nq), ptrOf(rt, kn, 'lse', lse, s.B * s.H * s.T)]);
}

export function blasAttentionBwd(rt: WasmRuntime, s: AttentionShape, q: F32, k: F32, v: F32, out: F32, lse: F32, dout: F32,
                                 dq: F32, dk: F32, dv: F32, keyMask?: Int32Array): void {
  checkAttentionShape(s);
  const kn = 'blasAttentionBwd', nq = s.B * s.T * s.H * s.D, nk = s.B * s.S * s.Hkv * s.D;
  runUnits(rt, 'blasAttnBwd', s, 10, [...args(rt, kn, s, q, k, v, keyMask), ptrOf(rt, kn, 'out', out, nq), ptrOf(rt, kn, 'lse', lse, s.B * s.H * s.T),
    ptrOf(rt, kn, 'dout', dout, nq), ptrOf(rt, kn, 'dq', dq, nq), ptrOf(rt, kn, 'dk', dk, nk), ptrOf(rt, kn, 'dv', dv, nk)]);
}
