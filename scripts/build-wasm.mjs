#!/usr/bin/env node
// Builds src/backend/wasm/assembly/index.ts (AssemblyScript, SIMD128 + threads) into
// src/backend/wasm/build/kernels.wasm. The module imports one shared memory (env.memory) so every
// worker instance sees the same tensors; runtime "stub" because kernels never allocate through AS.
// Usage: node scripts/build-wasm.mjs
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdirSync, statSync } from 'node:fs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wasmDir = join(root, 'src', 'backend', 'wasm');
// --out-dir DIR writes the modules elsewhere (the test that checks the committed build matches its sources)
const outFlag = process.argv.indexOf('--out-dir');
const outDir = outFlag > 0 ? process.argv[outFlag + 1] : join(wasmDir, 'build');
mkdirSync(outDir, { recursive: true });
// Two variants: plain SIMD128, and one using relaxed-SIMD FMA in the GEMM micro-kernel (picked at runtime
// when the engine validates it; Node 20 needs --experimental-wasm-relaxed-simd, which runtime.ts sets).
for (const [name, extra] of [['kernels.wasm', []], ['kernels-relaxed.wasm', ['--enable', 'relaxed-simd']]]) {
  build(join(outDir, name), extra);
}

function build(out, extra) {
const args = [
  join(wasmDir, 'assembly', 'index.ts'),
  '--outFile', out,
  '-O3', '--noAssert',
  '--runtime', 'stub',
  '--enable', 'simd', '--enable', 'threads',
  '--importMemory', '--sharedMemory', '--noExportMemory',
  '--initialMemory', '1', '--maximumMemory', '65536',
  '--use', 'abort=',
  ...extra,
];
const asc = join(root, 'node_modules', '.bin', 'asc');
const r = spawnSync(asc, args, { stdio: 'inherit', cwd: root });
if (r.status !== 0) {
  console.error(`build-wasm: asc exited with ${r.status ?? r.signal}`);
  process.exit(1);
}
console.log(`build-wasm: wrote ${out} (${statSync(out).size} bytes)`);
}
