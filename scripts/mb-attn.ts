import { createWasmBackend } from '../src/backend/wasm/index.ts';
import { blasBackend } from '../src/backend/blas/index.ts';
import { attentionFwd, attentionBwd } from '../src/backend/wasm/attention.ts';
import { blasAttentionFwd, blasAttentionBwd } from '../src/backend/blas/attention.ts';
const threads = Number(process.env.TH ?? 2);
const wasm = await createWasmBackend(threads); await blasBackend(wasm, threads);
const rt = wasm.runtime;
for (const [B, T, H, Hkv, D, causal] of [[8, 180, 6, 2, 32, true], [6, 64, 4, 4, 32, false], [4, 150, 4, 4, 32, false]] as const) {
  const s = { B, T, S: T, H, Hkv, D, causal, layout: 'bthd' as const };
  const nq = B * T * H * D, nk = B * T * Hkv * D;
  const al = (n: number) => { const a = rt.heap.alloc(n).array; for (let i = 0; i < n; i++) a[i] = Math.sin(i) ; return a; };
  const q = al(nq), k = al(nk), v = al(nk), out = al(nq), lse = al(B * H * T), dout = al(nq), dq = al(nq), dk = al(nk), dv = al(nk);
  for (const [name, f, b] of [['wasm', attentionFwd, attentionBwd], ['blas', blasAttentionFwd, blasAttentionBwd]] as const) {
    const reps = 30;
    for (let i = 0; i < 5; i++) { f(rt, s, q, k, v, out, lse); b(rt, s, q, k, v, out, lse, dout, dq, dk, dv); }
    let t0 = performance.now(); for (let i = 0; i < reps; i++) f(rt, s, q, k, v, out, lse); const fm = (performance.now() - t0) / reps;
    t0 = performance.now(); for (let i = 0; i < reps; i++) b(rt, s, q, k, v, out, lse, dout, dq, dk, dv); const bm = (performance.now() - t0) / reps;
    console.log(`${name} B${B} T${T} H${H}/${Hkv} D${D} ${causal ? 'causal' : ''}: fwd ${fm.toFixed(2)} ms bwd ${bm.toFixed(2)} ms`);
  }
}
await rt.close();
