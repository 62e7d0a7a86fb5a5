// The committed kernels are what their sources build to: rebuild both modules with the project's own
// AssemblyScript (npm-installed, no system compiler) into a temp dir and compare bytes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../util/paths.ts';

test('build/kernels*.wasm equal a fresh build of assembly/', () => {
  const out = mkdtempSync(join(tmpdir(), 'tessera-wasm-'));
  try {
    const r = spawnSync(process.execPath, [join(repoRoot, 'scripts/build-wasm.mjs'), '--out-dir', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const name of ['kernels.wasm', 'kernels-relaxed.wasm']) {
      const fresh = readFileSync(join(out, name)), committed = readFileSync(join(repoRoot, 'src/backend/wasm/build', name));
      assert.ok(fresh.equals(committed), `${name}: the committed build differs from its sources; run node scripts/build-wasm.mjs`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
