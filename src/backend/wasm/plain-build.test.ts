// The plain SIMD128 build (kernels.wasm) is what engines without relaxed SIMD load (browsers that lack it, and
// TESSERA_WASM_RELAXED=0); every other test loads the relaxed build where Node validates it, and the two differ
// wherever a kernel fuses a multiply-add. This runs the kernel tests and the backends' conformance suite again in a
// child process on the plain build.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { repoRoot } from '../../util/paths.ts';

// without NODE_TEST_CONTEXT, which makes a nested `node --test` skip its files
const { NODE_TEST_CONTEXT: _, ...parentEnv } = process.env;
const env = { ...parentEnv, TESSERA_WASM_RELAXED: '0' };

test('TESSERA_WASM_RELAXED=0 loads the plain SIMD128 build', () => {
  const code = "const m = await import('./src/backend/wasm/runtime.ts'); const rt = await m.createWasmRuntime({ threads: 1 }); console.log(m.wasmVariant); await rt.close();";
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: repoRoot, env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'simd128');
});

test('the plain SIMD128 build passes the wasm kernel tests and the conformance suite', () => {
  const files = ['elementwise', 'unary', 'rows', 'gemm', 'attention', 'layout'].map((f) => `src/backend/wasm/${f}.test.ts`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...files, 'src/backend/conformance.test.ts'], { cwd: repoRoot, env, encoding: 'utf8' });
  const out = r.stdout + r.stderr;
  assert.equal(r.status, 0, out.slice(-3000));
  assert.match(out, /# fail 0/);
  assert.ok(Number(/# pass (\d+)/.exec(out)?.[1]) > 100, out.slice(-500));
});
