// Flash attention against a plain-JS attention that materialises the full score matrix (f64): forward output
// and logsumexp, and the backward against the JS backward of softmax(q kᵀ) v. Covers grouped KV heads, causal
// with T < S (decode), a key-padding mask (including a fully masked batch row) and 1 and 2 threads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWasmRuntime, type WasmRuntime } from './runtime.ts';
import { attentionBwd, attentionFwd, type AttentionShape } from './attention.ts';

function rand(rt: WasmRuntime, n: number, seed: number): Float32Array {
  const a = rt.heap.alloc(n).array;
  let s = seed;
  for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) >>> 0; a[i] = 2 * (s / 2 ** 32) - 1; }
  return a;
}

interface Grads { out: number[]; lse: number[]; dq: number[]; dk: number[]; dv: number[] }

function reference(sh: AttentionShape, q: Float32Array, k: Float32Array, v: Float32Array, dout: Float32Array, mask: Int32Array | undefined): Grads {
  const { B, T, S, H, Hkv, D } = sh, G = H / Hkv, scale = 1 / Math.sqrt(D);
  const qi = (b: number, t: number, h: number): number => ((b * T + t) * H + h) * D;
  const ki = (b: number, j: number, h: number): number => ((b * S + j) * Hkv + h) * D;
  const r: Grads = { out: new Array(B * T * H * D).fill(0), lse: new Array(B * H * T).fill(Infinity), dq: new Array(B * T * H * D).fill(0), dk: new Array(B * S * Hkv * D).fill(0), dv: new Array(B * S * Hkv * D).fill(0) };
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) {
    const kh = Math.floor(h / G);
    const keys: number[] = [];
    for (let j = 0; j < S; j++) if ((!sh.causal || j <= t + S - T) && (!mask || mask[b * S + j] !== 0)) keys.push(j);
    if (keys.length === 0) continue;
    const sc = keys.map((j) => { let s = 0; for (let d = 0; d < D; d++) s += q[qi(b, t, h) + d]! * k[ki(b, j, kh) + d]!; return s * scale; });
    const m = Math.max(...sc), z = sc.reduce((a, s) => a + Math.exp(s - m), 0);
    const p = sc.map((s) => Math.exp(s - m) / z);
    r.lse[(b * H + h) * T + t] = m + Math.log(z);
    for (let d = 0; d < D; d++) r.out[qi(b, t, h) + d] = keys.reduce((a, j, x) => a + p[x]! * v[ki(b, j, kh) + d]!, 0);
    // backward: dp = dO·v, ds = p (dp − Σ p dp)
    const dp = keys.map((j) => { let s = 0; for (let d = 0; d < D; d++) s += dout[qi(b, t, h) + d]! * v[ki(b, j, kh) + d]!; return s; });
    const dot = p.reduce((a, pv, x) => a + pv * dp[x]!, 0);
    keys.forEach((j, x) => {
      const ds = p[x]! * (dp[x]! - dot) * scale;
      for (let d = 0; d < D; d++) {
        r.dv[ki(b, j, kh) + d]! += p[x]! * dout[qi(b, t, h) + d]!;
        r.dq[qi(b, t, h) + d]! += ds * k[ki(b, j, kh) + d]!;
        r.dk[ki(b, j, kh) + d]! += ds * q[qi(b, t, h) + d]!;
      }
    });
  }
  return r;
}

function near(got: Float32Array, want: number[], tol: number, what: string): void {
  for (let i = 0; i < want.length; i++) {
    const ok = want[i] === Infinity ? got[i] === Infinity : Math.abs(got[i]! - want[i]!) <= tol * (1 + Math.abs(want[i]!));
    assert.ok(ok, `${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

const cases: Array<{ name: string; sh: AttentionShape; masked: boolean }> = [
  { name: 'causal MHA', sh: { B: 2, T: 37, S: 37, H: 3, Hkv: 3, D: 8, causal: true }, masked: false },
  { name: 'causal GQA decode T<S, odd D', sh: { B: 1, T: 5, S: 150, H: 4, Hkv: 2, D: 6, causal: true }, masked: false },
  { name: 'bidirectional with key padding', sh: { B: 3, T: 70, S: 70, H: 2, Hkv: 1, D: 16, causal: false }, masked: true },
  { name: 'single token', sh: { B: 1, T: 1, S: 1, H: 1, Hkv: 1, D: 1, causal: true }, masked: false },
  // one query row takes the decode path (dot products against K in place)
  { name: 'decode step: one query, GQA, D not a multiple of 4, key padding', sh: { B: 3, T: 1, S: 41, H: 6, Hkv: 2, D: 7, causal: true }, masked: true },
  { name: 'decode step: one query, bidirectional, D 64', sh: { B: 2, T: 1, S: 130, H: 4, Hkv: 4, D: 64, causal: false }, masked: false },
];

for (const threads of [1, 2]) {
  test(`flash attention forward/backward match the materialised reference, threads=${threads}`, async () => {
    const rt = await createWasmRuntime({ threads });
    try {
      for (const { name, sh, masked } of cases) {
        const nq = sh.B * sh.T * sh.H * sh.D, nk = sh.B * sh.S * sh.Hkv * sh.D;
        const q = rand(rt, nq, 1), k = rand(rt, nk, 2), v = rand(rt, nk, 3), dout = rand(rt, nq, 4);
        const out = rt.heap.alloc(nq).array, lse = rt.heap.alloc(sh.B * sh.H * sh.T).array;
        const dq = rt.heap.alloc(nq).array, dk = rt.heap.alloc(nk).array, dv = rt.heap.alloc(nk).array;
        let mask: Int32Array | undefined;
        if (masked) {
          mask = new Int32Array(rt.heap.memory.buffer, rt.heap.allocBytes(4 * sh.B * sh.S), sh.B * sh.S);
          for (let b = 0; b < sh.B; b++) for (let j = 0; j < sh.S; j++) mask[b * sh.S + j] = b === 2 ? 0 : j < sh.S - 9 * b ? 1 : 0;
        }
        attentionFwd(rt, sh, q, k, v, out, lse, mask);
        attentionBwd(rt, sh, q, k, v, out, lse, dout, dq, dk, dv, mask);
        const r = reference(sh, q, k, v, dout, mask);
        near(out, r.out, 2e-5, `${name} out`);
        near(lse, r.lse, 2e-5, `${name} lse`);
        near(dq, r.dq, 5e-5, `${name} dq`);
        near(dk, r.dk, 5e-5, `${name} dk`);
        near(dv, r.dv, 5e-5, `${name} dv`);
      }
      const sh = { B: 1, T: 4, S: 4, H: 3, Hkv: 2, D: 4, causal: true };
      const a = rt.heap.alloc(64).array;
      assert.throws(() => attentionFwd(rt, sh, a, a, a, a, a), /H=3 is not a multiple of Hkv=2/);
    } finally {
      await rt.close();
    }
  });
}

// [B, T, heads, D] → [B, heads, T, D]
function toBhtd(rt: WasmRuntime, x: Float32Array, B: number, T: number, heads: number, D: number): Float32Array {
  const y = rt.heap.alloc(x.length).array;
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let h = 0; h < heads; h++) {
    for (let d = 0; d < D; d++) y[((b * heads + h) * T + t) * D + d] = x[((b * T + t) * heads + h) * D + d]!;
  }
  return y;
}

test('the bhtd layout gives the bthd results, transposed (GQA, causal decode, odd D)', async () => {
  const rt = await createWasmRuntime({ threads: 2 });
  try {
    const sh: AttentionShape = { B: 2, T: 13, S: 21, H: 4, Hkv: 2, D: 5, causal: true };
    const nq = sh.B * sh.T * sh.H * sh.D, nk = sh.B * sh.S * sh.Hkv * sh.D;
    const q = rand(rt, nq, 5), k = rand(rt, nk, 6), v = rand(rt, nk, 7), dout = rand(rt, nq, 8);
    const grads = (layout: 'bthd' | 'bhtd', xs: Float32Array[]): Float32Array[] => {
      const [qi, ki, vi, gi] = xs as [Float32Array, Float32Array, Float32Array, Float32Array];
      const out = rt.heap.alloc(nq).array, lse = rt.heap.alloc(sh.B * sh.H * sh.T).array;
      const dq = rt.heap.alloc(nq).array, dk = rt.heap.alloc(nk).array, dv = rt.heap.alloc(nk).array;
      attentionFwd(rt, { ...sh, layout }, qi, ki, vi, out, lse);
      attentionBwd(rt, { ...sh, layout }, qi, ki, vi, out, lse, gi, dq, dk, dv);
      return [out, lse, dq, dk, dv];
    };
    const a = grads('bthd', [q, k, v, dout]);
    const b = grads('bhtd', [toBhtd(rt, q, sh.B, sh.T, sh.H, sh.D), toBhtd(rt, k, sh.B, sh.S, sh.Hkv, sh.D),
      toBhtd(rt, v, sh.B, sh.S, sh.Hkv, sh.D), toBhtd(rt, dout, sh.B, sh.T, sh.H, sh.D)]);
    const want = [toBhtd(rt, a[0]!, sh.B, sh.T, sh.H, sh.D), a[1]!, toBhtd(rt, a[2]!, sh.B, sh.T, sh.H, sh.D),
      toBhtd(rt, a[3]!, sh.B, sh.S, sh.Hkv, sh.D), toBhtd(rt, a[4]!, sh.B, sh.S, sh.Hkv, sh.D)];
    want.forEach((w, i) => near(b[i]!, [...w], 1e-6, `bhtd output ${i}`));
  } finally {
    await rt.close();
  }
});
