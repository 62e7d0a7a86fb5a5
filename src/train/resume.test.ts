// Kill and resume: a training run in a child process is killed with SIGKILL after its first checkpoint,
// resumed with --resume, and must end with weights bit-identical to a run that was never interrupted
// (weights, AdamW moments, data order over a two-source mix and the schedule all come back from the checkpoint).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listCheckpoints } from './checkpoint.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { readMetrics } from './metrics.ts';
import { repoRoot } from '../util/paths.ts';

const child = join(repoRoot, 'src/train/testing/resume-child.ts');
const run = (dir: string, ...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', child, dir, ...args], { cwd: repoRoot, encoding: 'utf8' });

function weights(dir: string): Map<string, Buffer> {
  const last = listCheckpoints(dir).at(-1)!;
  const r = openSafetensors(join(last.dir, 'model.safetensors'));
  try {
    return new Map(r.keys().map((k) => [k, Buffer.from((r.read(k).data as Float32Array).slice().buffer)]));
  } finally { r.close(); }
}

test('SIGKILL after a checkpoint, then --resume, ends with the same weights as an uninterrupted run', async () => {
  const whole = mkdtempSync(join(tmpdir(), 'tessera-whole-')), killed = mkdtempSync(join(tmpdir(), 'tessera-killed-'));
  try {
    const a = run(whole);
    assert.equal(a.status, 0, a.stderr);
    assert.equal(listCheckpoints(whole).at(-1)!.step, 30);

    const proc = spawn(process.execPath, ['--import', 'tsx', child, killed, '--delay-ms', '60'], { cwd: repoRoot, stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_code, signal) => resolve(signal)));
    // kill as soon as the first checkpoint (step 5) is complete
    while (!listCheckpoints(killed).some((c) => c.step >= 5)) await new Promise((r) => setTimeout(r, 10));
    proc.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    const at = listCheckpoints(killed).at(-1)!.step;
    assert.ok(at >= 5 && at < 30, `killed mid-run (last checkpoint ${at})`);

    const b = run(killed, '--resume');
    assert.equal(b.status, 0, b.stderr);
    assert.match(b.stderr, new RegExp(`resumed at step ${at}`));
    const want = weights(whole), got = weights(killed);
    assert.deepEqual([...got.keys()], [...want.keys()]);
    for (const [k, v] of want) assert.ok(v.equals(got.get(k)!), `${k} differs after resume`);
    assert.deepEqual(readMetrics(join(killed, 'metrics.jsonl')).map((r) => r.step), Array.from({ length: 30 }, (_, i) => i + 1));
  } finally {
    rmSync(whole, { recursive: true, force: true });
    rmSync(killed, { recursive: true, force: true });
  }
});
