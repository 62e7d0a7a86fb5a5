// The shipped default model, models/tessera-demo (issue 5): it is there, within its 30 MB budget, loads, carries
// the report of the run that made it (eval.json), and on held-out records drawn now with a seed no run used it
// scores what that report says, within sampling noise, and above its own no-media baseline.

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../backend/select.ts';
import { synthesize } from '../../data/synthetic/synthesize.ts';
import { ALL_TASKS } from '../../data/synthetic/vocab.ts';
import { evaluateRecords } from '../../eval/evaluate.ts';
import { readTaskRecords } from '../../eval/predict.ts';
import type { RecipeEval } from '../../train/recipes/report.ts';
import { repoRoot } from '../../util/paths.ts';
import { loadTessera } from './checkpoint.ts';

const dir = join(repoRoot, 'models', 'tessera-demo');
const PER_TASK = 8;

// the fast backend, as `npm start` runs it (the reference loops take ~1 s a prediction here)
before(async () => { await initBackend(); });

test('models/tessera-demo: the files, within 30 MB, with the report of its run', () => {
  const files = readdirSync(dir);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja', 'eval.json', 'report.md']) {
    assert.ok(files.includes(f), `models/tessera-demo lacks ${f}`);
  }
  const bytes = files.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  assert.ok(bytes <= 30 * 2 ** 20, `models/tessera-demo holds ${(bytes / 2 ** 20).toFixed(1)} MB, over the 30 MB budget`);
  const report = JSON.parse(readFileSync(join(dir, 'eval.json'), 'utf8')) as RecipeEval;
  assert.equal(report.recipe, 'demo');
  assert.deepEqual(report.final.tasks.map((t) => t.task).sort(), [...ALL_TASKS].sort(), 'eval.json scores every task of the card');
});

test('models/tessera-demo: fresh held-out records score as its report says, and above the no-media baseline', async () => {
  const report = JSON.parse(readFileSync(join(dir, 'eval.json'), 'utf8')) as RecipeEval;
  const { model, processor } = loadTessera(dir);
  const out = mkdtempSync(join(tmpdir(), 'tessera-demo-test-'));
  try {
    await synthesize({ outDir: out, tasks: [...ALL_TASKS], n: PER_TASK, seed: 777, split: 'heldout' });
    const records = readTaskRecords(join(out, 'data.jsonl'));
    assert.equal(records.length, PER_TASK * ALL_TASKS.length);
    const r = await evaluateRecords({ model: model.eval(), processor, maxNewTokens: 32 }, records, { baseline: true });
    const acc = r.overall.accuracy, recorded = report.final.overall.accuracy;
    // 128 items: one standard error of an accuracy near 0.3 is ≈ 0.04; allow three
    assert.ok(acc >= recorded - 0.13, `overall ${acc.toFixed(3)} on fresh held-out records, the run's report says ${recorded.toFixed(3)}`);
    // the tasks where the report shows the model reading its media (≥ 25 points over its no-media baseline) do
    // so on the fresh records too
    const reading = report.final.tasks.filter((t) => t.baseline !== null && t.accuracy >= t.baseline + 0.25).map((t) => t.task);
    assert.ok(reading.length > 0, 'the report shows no task where the model reads its media');
    const fresh = r.tasks.filter((t) => reading.includes(t.task)), n = fresh.reduce((k, t) => k + t.count, 0);
    const withMedia = fresh.reduce((k, t) => k + t.accuracy * t.count, 0) / n;
    const blank = fresh.reduce((k, t) => k + (t.baseline ?? 0) * t.count, 0) / n;
    assert.ok(withMedia >= blank + 0.15, `${reading.join(', ')}: ${withMedia.toFixed(3)} with media, ${blank.toFixed(3)} without`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
