// Memory-bound kernels of the wasm backend in GB/s (bytes read + written per call) against the machine's copy
// bandwidth, measured two ways: Float32Array.prototype.set on large arrays and a wasm memory.copy.
// Prints a table and one JSON line per measurement. Best-of timing (the machine is shared).
// Usage: node --import tsx bench/ops.ts [--threads 1,2] [--n 16777216]
import { createWasmRuntime, type WasmRuntime } from '../src/backend/wasm/runtime.ts';
import { adamw, binary, unary } from '../src/backend/wasm/elementwise.ts';
import { layerNorm, rmsNorm, softmax } from '../src/backend/wasm/rows.ts';

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

function report(threads: number, op: string, bytes: number, seconds: number, copy: number): void {
  const gbps = bytes / seconds / 1e9;
  console.log(JSON.stringify({ bench: 'ops', impl: 'tessera-wasm', threads, op, n, gbps: +gbps.toFixed(2) }));
  rows_.push(`${op.padEnd(16)} threads=${threads}  ${gbps.toFixed(1).padStart(6)} GB/s  ${((100 * gbps) / copy).toFixed(0).padStart(4)}% of copy`);
}

function run(rt: WasmRuntime, threads: number): void {
  const h = rt.heap;
  const [a, b, c, d] = [h.alloc(n), h.alloc(n), h.alloc(n), h.alloc(n)];
  for (const x of [a, b, c, d]) for (let i = 0; i < n; i++) x.array[i] = Math.sin(i) * 0.5;
  const w = h.alloc(cols), bias = h.alloc(cols), mean = h.alloc(rows), rstd = h.alloc(rows);
  w.array.fill(1); bias.array.fill(0);
  const f = 4 * n;
  const setCopy = (2 * f) / bestSeconds(() => b.array.set(a.array)) / 1e9;
  const wasmCopy = (2 * f) / bestSeconds(() => rt.fn.copyBytes!(b.ptr, a.ptr, f)) / 1e9;
  const copy = Math.max(setCopy, wasmCopy);
  console.log(JSON.stringify({ bench: 'ops', impl: 'typedarray-set', threads: 1, op: 'copy', n, gbps: +setCopy.toFixed(2) }));
  console.log(JSON.stringify({ bench: 'ops', impl: 'wasm-memory.copy', threads: 1, op: 'copy', n, gbps: +wasmCopy.toFixed(2) }));
  rows_.push(`copy (set)       ${setCopy.toFixed(1).padStart(17)} GB/s`, `copy (memory.copy) ${wasmCopy.toFixed(1).padStart(15)} GB/s`);
  report(threads, 'add', 3 * f, bestSeconds(() => binary(rt, 'add', n, a.array, b.array, c.array)), copy);
  report(threads, 'gelu', 2 * f, bestSeconds(() => unary(rt, 'gelu', n, a.array, c.array)), copy);
  report(threads, 'rmsnorm', 2 * f, bestSeconds(() => rmsNorm(rt, rows, cols, a.array, w.array, 1e-5, c.array, rstd.array)), copy);
  report(threads, 'layernorm', 2 * f, bestSeconds(() => layerNorm(rt, rows, cols, a.array, w.array, bias.array, 1e-5, c.array, mean.array, rstd.array)), copy);
  report(threads, 'softmax', 2 * f, bestSeconds(() => softmax(rt, rows, cols, a.array, c.array)), copy);
  // AdamW reads p, g, m, v and writes p, m, v: 7 floats per parameter
  let step = 0;
  report(threads, 'adamw', 7 * f, bestSeconds(() => adamw(rt, n, a.array, b.array, c.array, d.array,
    { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: ++step })), copy);
  for (const x of [a, b, c, d, w, bias, mean, rstd]) h.free(x.ptr);
}

for (const threads of arg('threads', '1,2')) {
  const rt = await createWasmRuntime({ threads });
  run(rt, threads);
  await rt.close();
}
console.log(`\n${rows_.join('\n')}`);
