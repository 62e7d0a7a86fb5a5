// TESSERA_PROFILE (read when the process starts, hence a child process each): `1` times every kernel by name,
// `shapes` splits matmul by shape and transposes and adds its GFLOP/s.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { repoRoot } from '../util/paths.ts';

const script = `
import * as T from './src/tensor/index.ts';
import { profileReport } from './src/backend/profile.ts';
const a = T.randn([3, 4]), w = T.randn([5, 4]);
T.linear(a, w);                       // x·Wᵀ: the weight transposed
T.matmul(T.randn([2, 3, 4]), T.randn([2, 4, 6]));
process.stdout.write(profileReport(1000));
`;

function report(mode: string): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script],
    { cwd: repoRoot, env: { ...process.env, TESSERA_PROFILE: mode, TESSERA_BACKEND: 'reference' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test('TESSERA_PROFILE=shapes: one matmul line per shape and transposes, with GFLOP/s; =1: one matmul line', () => {
  const shapes = report('shapes');
  assert.match(shapes, /GFLOP\/s/);
  assert.match(shapes, /^matmul 3x5x4 NT +[\d.]+ +[\d.]+ +1 +[\d.]+$/m);
  assert.match(shapes, /^matmul 3x6x4\*2 NN +[\d.]+ +[\d.]+ +1 +[\d.]+$/m);
  const plain = report('1');
  assert.match(plain, /^matmul +[\d.]+ +[\d.]+ +2$/m);
  assert.doesNotMatch(plain, /GFLOP|matmul \d/);
});
