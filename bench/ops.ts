// Memory-bound kernels of the wasm backend in GB/s against the machine's copy bandwidth at the same thread
// count (Float32Array.prototype.set, one thread, and wasm memory.copy split across the pool). Bytes moved count
// every input read, every output written and, for an output that is not also an input, the read-for-ownership
// the cache does before writing it: a copy moves 3 arrays, an in-place update like AdamW's p, m, v none extra.
// (Counting a copy as 2 arrays made in-place AdamW read "152% of copy".)
// Prints a table and one JSON line per measurement. Best-of timing (the machine is shared). Also times one
// attention forward/backward call at the training anchor's shape (B 16, H 4, T 128, D 64, causal) per layout, and
// at the demo model's LLM shape (B 8, T 180, H 6 / 2 kv, D 32, causal), with the fused wasm kernel and, where a
// CBLAS loads, the blas backend's attention from sgemm (src/backend/blas/attention.ts).
// Usage: node --import tsx bench/ops.ts [--threads 1,2] [--n 16777216]
import { createWasmRuntime, splitRange, type WasmRuntime } from '../src/backend/wasm/runtime.ts';
import { adamw, binary, swiglu, swigluBwd, unary } from '../src/backend/wasm/elementwise.ts';
import { layerNorm, rmsNorm, rmsNormBwd, softmax, sumSquares } from '../src/backend/wasm/rows.ts';
import { referenceKernels } from '../src/backend/reference/index.ts';
import { attentionBwd, attentionFwd, type AttentionShape } from '../src/backend/wasm/attention.ts';
import { attachBlas } from '../src/backend/blas/index.ts';
import { blasAttentionBwd, blasAttentionFwd } from '../src/backend/blas/attention.ts';

function arg(name: string, fallback: string): number[] {
  const i = process.argv.indexOf(`--${name}`);
  return (i >= 0 ? process.argv[i + 1]! : fallback).split(',').map(Number);
}

function bestSeconds(fn: () => void, budgetS = 1): number {
  fn();
  let best = Infinity, reps = 0;
  const end = performance.now() + budgetS * 1000;
  while (reps < 3 || (performance.now() < end && reps < 100)) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, (performance.now() - t0) / 1000);
    reps++;
  }
  return best;
}

const n = arg('n', String(1 << 24))[0]!; // 64 MiB per f32 array: far beyond the caches
const cols = 4096, rows = n / cols;
const rows_: string[] = [];

function report(threads: number, op: string, bytes: number, seconds: number, copy: number, impl = 'tessera-wasm'): void {
  const gbps = bytes / seconds / 1e9;
  console.log(JSON.stringify({ bench: 'ops', impl, threads, op, n, gbps: +gbps.toFixed(2) }));
  rows_.push(`${(impl === 'tessera-wasm' ? op : `${op} (${impl.replace('tessera-', '')})`).padEnd(16)} threads=${threads}  ${gbps.toFixed(1).padStart(6)} GB/s  ${((100 * gbps) / copy).toFixed(0).padStart(4)}% of copy`);
}

function run(rt: WasmRuntime, threads: number): void {
  const h = rt.heap;
  const [a, b, c, d, e] = [h.alloc(n), h.alloc(n), h.alloc(n), h.alloc(n), h.alloc(n)];
  for (const x of [a, b, c, d]) for (let i = 0; i < n; i++) x.array[i] = Math.sin(i) * 0.5;
  const w = h.alloc(cols), bias = h.alloc(cols), mean = h.alloc(rows), rstd = h.alloc(rows);
  w.array.fill(1); bias.array.fill(0);
  const f = 4 * n;
  const setCopy = (3 * f) / bestSeconds(() => b.array.set(a.array)) / 1e9;
  const copyJobs = splitRange(rt, n, 16, 4 * n).map(([s, e]) => [b.ptr + 4 * s, a.ptr + 4 * s, 4 * (e - s)]);
  const wasmCopy = (3 * f) / bestSeconds(() => rt.pool.run('copyBytes', copyJobs)) / 1e9;
  const copy = Math.max(setCopy, wasmCopy);
  console.log(JSON.stringify({ bench: 'ops', impl: 'typedarray-set', threads: 1, op: 'copy', n, gbps: +setCopy.toFixed(2) }));
  console.log(JSON.stringify({ bench: 'ops', impl: 'wasm-memory.copy', threads, op: 'copy', n, gbps: +wasmCopy.toFixed(2) }));
  rows_.push(`copy (set, 1 thread)  ${setCopy.toFixed(1).padStart(12)} GB/s`, `copy (memory.copy) threads=${threads} ${wasmCopy.toFixed(1).padStart(6)} GB/s`);
  report(threads, 'add', 4 * f, bestSeconds(() => binary(rt, 'add', n, a.array, b.array, c.array)), copy);
  report(threads, 'gelu', 3 * f, bestSeconds(() => unary(rt, 'gelu', n, a.array, c.array)), copy);
  report(threads, 'rmsnorm', 3 * f, bestSeconds(() => rmsNorm(rt, rows, cols, a.array, w.array, 1e-5, c.array, rstd.array)), copy);
  report(threads, 'layernorm', 3 * f, bestSeconds(() => layerNorm(rt, rows, cols, a.array, w.array, bias.array, 1e-5, c.array, mean.array, rstd.array)), copy);
  report(threads, 'softmax', 3 * f, bestSeconds(() => softmax(rt, rows, cols, a.array, c.array)), copy);
  report(threads, 'rmsnorm bwd', 4 * f, bestSeconds(() => rmsNormBwd(rt, rows, cols, a.array, w.array, rstd.array, b.array, c.array, bias.array)), copy);
  report(threads, 'swiglu', 4 * f, bestSeconds(() => swiglu(rt, n, a.array, b.array, c.array)), copy);
  report(threads, 'swiglu bwd', 7 * f, bestSeconds(() => swigluBwd(rt, n, a.array, b.array, c.array, d.array, e.array)), copy);
  // AdamW reads p, g, m, v and writes p, m, v in place: 7 floats per parameter. v must start non-negative (it is a
  // running mean of g²): negative v made √v NaN, and NaN/denormal parameters are not the state a step sees.
  for (let i = 0; i < n; i++) { d.array[i] = 1e-4 * Math.abs(d.array[i]!); a.array[i] = Math.sin(i) * 0.5; }
  let step = 0;
  report(threads, 'adamw', 7 * f, bestSeconds(() => adamw(rt, n, a.array, b.array, c.array, d.array,
    { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: ++step })), copy);
  // gradient clipping's global norm (one thread whatever the pool: the order of its sums is fixed; reads each
  // gradient once): the reference kernel in JS, and the wasm kernel that computes the same bits
  if (threads === 1) {
    report(threads, 'grad norm', f, bestSeconds(() => referenceKernels.sumSquares(a.array)), copy, 'tessera-reference');
    report(threads, 'grad norm', f, bestSeconds(() => sumSquares(rt, n, a.array)), copy);
  }
  for (const x of [a, b, c, d, e, w, bias, mean, rstd]) h.free(x.ptr);
}

function attention(rt: WasmRuntime, threads: number, blas: boolean): void {
  const impls = [{ impl: 'tessera-wasm', fwd: attentionFwd, bwd: attentionBwd }, ...(blas ? [{ impl: 'tessera-blas', fwd: blasAttentionFwd, bwd: blasAttentionBwd }] : [])];
  const shapes: [string, AttentionShape][] = [
    ['anchor', { B: 16, T: 128, S: 128, H: 4, Hkv: 4, D: 64, causal: true, layout: 'bthd' }],
    ['anchor', { B: 16, T: 128, S: 128, H: 4, Hkv: 4, D: 64, causal: true, layout: 'bhtd' }],
    ['demo LLM', { B: 8, T: 180, S: 180, H: 6, Hkv: 2, D: 32, causal: true, layout: 'bthd' }],
  ];
  for (const [name, s] of shapes) {
    const m = s.B * s.T * s.H * s.D, mk = s.B * s.S * s.Hkv * s.D;
    const [q, g, o, dq] = Array.from({ length: 4 }, () => rt.heap.alloc(m));
    const [k, v, dk, dv] = Array.from({ length: 4 }, () => rt.heap.alloc(mk));
    for (const x of [q, g, k, v]) for (let i = 0; i < x!.array.length; i++) x!.array[i] = Math.sin(i * 1.3);
    const lse = rt.heap.alloc(s.B * s.H * s.T);
    for (const { impl, fwd: f, bwd: b } of impls) {
      const fwd = bestSeconds(() => f(rt, s, q!.array, k!.array, v!.array, o!.array, lse.array), 0.5);
      const bwd = bestSeconds(() => b(rt, s, q!.array, k!.array, v!.array, o!.array, lse.array, g!.array, dq!.array, dk!.array, dv!.array), 0.5);
      const { layout, ...sh } = s;
      console.log(JSON.stringify({ bench: 'attention', impl, threads, config: name, layout, ...sh, fwd_ms: +(fwd * 1e3).toFixed(2), bwd_ms: +(bwd * 1e3).toFixed(2) }));
      rows_.push(`attention ${name.padEnd(8)} ${layout} ${impl.padEnd(12)} threads=${threads}  fwd ${(fwd * 1e3).toFixed(2).padStart(7)} ms  bwd ${(bwd * 1e3).toFixed(2).padStart(7)} ms`);
    }
    for (const x of [q, g, o, dq, k, v, dk, dv, lse]) rt.heap.free(x!.ptr);
  }
}

for (const threads of arg('threads', '1,2')) {
  const rt = await createWasmRuntime({ threads });
  run(rt, threads);
  const blas = await attachBlas(rt).then(() => true, (e: Error) => { console.error(`blas attention skipped: ${e.message}`); return false; });
  attention(rt, threads, blas);
  await rt.close();
}
console.log(`\n${rows_.join('\n')}`);
