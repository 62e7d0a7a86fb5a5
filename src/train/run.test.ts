// End to end on the tiny tessera model and the synthetic generator's own data: an instruct stage with LoRA
// (projectors + LLM adapters) and then a DPO stage from its output, through the real `tessera train` CLI, then
// `tessera eval` and `tessera predict` on the same records (tool records included).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthesize } from '../data/synthetic/synthesize.ts';
import { saveTessera } from '../models/tessera/checkpoint.ts';
import { tinyTessera } from '../models/tessera/tiny.ts';
import { repoRoot } from '../util/paths.ts';
import { readMetrics } from './metrics.ts';

const cli = (...args: string[]) => spawnSync(process.execPath, [join(repoRoot, 'bin/tessera.mjs'), ...args], { cwd: repoRoot, encoding: 'utf8' });

test('tessera train (instruct + LoRA, then dpo), eval and predict on the tiny model', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-run-'));
  try {
    const { model, processor } = tinyTessera(0);
    saveTessera(join(dir, 'init'), model, processor);
    await synthesize({ outDir: join(dir, 'data'), tasks: ['vqa-color', 'beeps', 'tool'], n: 2, seed: 1, split: 'train', prefs: true });
    writeFileSync(join(dir, 'instruct.json'), JSON.stringify({
      name: 'instruct', kind: 'instruct', model: 'init', trainable: ['visionProjector', 'audioProjector', 'llm'],
      lr: { visionProjector: 1e-3, audioProjector: 1e-3, llm: 1e-3 }, data: [{ path: 'data/data.jsonl', weight: 1 }],
      steps: 3, batchSize: 2, maxLength: 256, warmup: 1, checkpointEvery: 2, evalEvery: 3, evalData: 'data/data.jsonl', evalLimit: 2,
      lora: { rank: 2, alpha: 4, targets: ['q_proj', 'v_proj'] },
    }));
    const a = cli('train', '--stage', join(dir, 'instruct.json'), '--out', join(dir, 'run1'));
    assert.equal(a.status, 0, a.stderr);
    assert.match(a.stderr, /data\.jsonl: 6 of 6 record\(s\) kept/);
    const m = readMetrics(join(dir, 'run1/metrics.jsonl'));
    assert.equal(m.length, 3);
    assert.equal(typeof m[2]!.eval_loss, 'number');
    assert.ok(existsSync(join(dir, 'run1/loss.png')) && existsSync(join(dir, 'run1/model/model.safetensors')));
    const saved = readFileSync(join(dir, 'run1/model/model.safetensors'));
    assert.ok(!saved.includes('lora_A'), 'adapters are merged before saving');

    writeFileSync(join(dir, 'dpo.json'), JSON.stringify({
      name: 'dpo', kind: 'dpo', trainable: ['llm'], lr: { llm: 1e-3 }, data: [{ path: 'data/prefs.jsonl', weight: 1 }],
      steps: 2, batchSize: 2, maxLength: 256, dpo: { beta: 0.1 },
    }));
    const b = cli('train', '--stage', join(dir, 'dpo.json'), '--model', join(dir, 'run1/model'), '--out', join(dir, 'run2'));
    assert.equal(b.status, 0, b.stderr);
    const d = readMetrics(join(dir, 'run2/metrics.jsonl'));
    assert.ok(Math.abs((d[0]!.loss as number) - Math.LN2) < 1e-4, `first DPO loss ${d[0]!.loss} = ln 2`);
    assert.equal(typeof d[0]!.rewards_margin, 'number');

    const e = cli('eval', '--model', join(dir, 'run2/model'), '--data', join(dir, 'data/data.jsonl'), '--json');
    assert.equal(e.status, 0, e.stderr);
    const report = JSON.parse(e.stdout) as { tasks: { task: string; count: number; chance: number; baseline: number | null }[] };
    assert.deepEqual(report.tasks.map((t) => [t.task, t.count]), [['vqa-color', 2], ['beeps', 2], ['tool', 2]]);
    assert.ok(report.tasks.every((t) => t.chance > 0 && t.baseline !== null));

    const out = join(dir, 'p.jsonl');
    const p = cli('predict', '--model', join(dir, 'run2/model'), '--data', join(dir, 'data/data.jsonl'), '--out', out);
    assert.equal(p.status, 0, p.stderr);
    const preds = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(preds.length, 6);
    for (const q of preds) {
      if (String(q.id).startsWith('tool')) assert.ok(Array.isArray(q.turns) && q.turns.length === 2, JSON.stringify(q));
      else assert.equal(typeof q.answer, 'string');
    }

    const bad = cli('train', '--preset', 'nope', '--out', join(dir, 'x'));
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /unknown stage preset "nope"/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
