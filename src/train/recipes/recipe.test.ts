// The `smoke` recipe end to end (data, tokenizer, every stage, final model, held-out eval), its output folder
// loaded back and scored by the real `tessera eval` CLI; resume semantics; recipe checks; and the demo model's
// size against the 30 MB budget of models/tessera-demo.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALL_TASKS } from '../../data/synthetic/vocab.ts';
import { initTessera, loadTessera } from '../../models/tessera/checkpoint.ts';
import { tesseraConfigFromSizes } from '../../models/tessera/config.ts';
import { repoRoot } from '../../util/paths.ts';
import { demoModel, getRecipe, recipes } from './presets.ts';
import { checkRecipe } from './recipe.ts';
import type { RecipeEval } from './report.ts';
import { runRecipe } from './run-recipe.ts';
import { barQuestions, boxQuestions, whereQuestions } from './prepare.ts';

const readJsonl = (p: string) => readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; conversations: unknown[] });
const cli = (...args: string[]) => spawnSync(process.execPath, [join(repoRoot, 'bin/tessera.mjs'), ...args], { cwd: repoRoot, encoding: 'utf8' });

test('the smoke recipe runs every stage, saves a loadable model and scores it on held-out data', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-recipe-'));
  try {
    const out = join(dir, 'run');
    const r = await runRecipe('smoke', out, { quiet: true, saveTo: join(dir, 'shipped') });
    const progress = JSON.parse(readFileSync(join(out, 'progress.json'), 'utf8')) as { done: string[] };
    assert.deepEqual(progress.done, ['data', 'model', ...getRecipe('smoke').stages.map((s) => `stage:${s.name}`), 'final', 'eval']);
    for (const s of getRecipe('smoke').stages) assert.ok(existsSync(join(out, 'stages', s.name, 'metrics.jsonl')), `stage ${s.name} ran`);
    // the instruct data asks each image or sound more questions after the record's own exchange
    for (const t of ['vqa-color', 'chart-value', 'asr-digits', 'ocr']) {
      const own = readJsonl(join(out, `data/train/task-${t}.jsonl`)), asked = readJsonl(join(out, `data/train/mq-task-${t}.jsonl`));
      assert.deepEqual(asked.map((x) => x.id), own.map((x) => x.id));
      asked.forEach((x, i) => assert.deepEqual(x.conversations.slice(0, 2), own[i]!.conversations, `${t}: the record's own exchange first`));
      const turns = asked.map((x) => x.conversations.length);
      if (t === 'ocr') assert.ok(turns.every((n) => n === 2), 'an ocr image answers one question');
      else assert.ok(turns.every((n) => n > 2 && n <= 2 + 2 * getRecipe('smoke').data.moreQuestions), `${t}: ${turns.join(' ')} turns`);
    }

    const { model, processor } = loadTessera(r.modelDir);
    assert.ok(model.vision && model.audio, 'the final model has both towers');
    assert.equal(processor.imageSeqLength, 16);
    const e = JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8')) as RecipeEval;
    assert.deepEqual(e.final.tasks.map((t) => t.task), [...ALL_TASKS], 'every task of the card is scored');
    assert.ok(e.final.tasks.every((t) => t.count === 1 && t.baseline !== null));
    assert.equal(e.compare?.stage, 'refresh');
    // and on its own training records, one per task, without the blank-media pass
    assert.deepEqual(e.train?.tasks.map((t) => t.task), [...ALL_TASKS]);
    assert.ok(e.train!.tasks.every((t) => t.count === 1 && t.baseline === null));
    assert.ok(e.timings.some((t) => t.stage === 'instruct' && t.steps === 3 && t.secondsPerStep > 0));
    assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /\| task \| count \| accuracy \| chance \| no-media \| refresh \| train records \|\n\|---\|---\|---\|---\|---\|---\|---\|\n\| caption \| 1 \|/);
    assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /\| vqa-exist \| 1 \|/);
    assert.ok(existsSync(join(dir, 'shipped/model.safetensors')) && existsSync(join(dir, 'shipped/eval.json')));

    const ev = cli('eval', '--model', join(dir, 'shipped'), '--data', join(out, 'data/heldout/mixed.jsonl'), '--limit', '4', '--json');
    assert.equal(ev.status, 0, ev.stderr);
    const report = JSON.parse(ev.stdout) as { overall: { count: number } };
    assert.equal(report.overall.count, 4);

    await assert.rejects(runRecipe('smoke', out, { quiet: true }), /already holds a recipe run: pass --resume/);
    const before = statSync(join(r.modelDir, 'model.safetensors')).mtimeMs;
    const again = await runRecipe('smoke', out, { quiet: true, resume: true });
    assert.equal(statSync(join(again.modelDir, 'model.safetensors')).mtimeMs, before, 'a finished run is not redone');
    await assert.rejects(runRecipe('quick', out, { quiet: true, resume: true }), /holds a run of recipe "smoke", not "quick"/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('recipes are consistent and bad ones are named', () => {
  for (const r of Object.values(recipes)) checkRecipe(r);
  assert.throws(() => getRecipe('nope'), /unknown recipe "nope" \(known: smoke, quick, demo\)/);
  const smoke = getRecipe('smoke');
  assert.throws(() => checkRecipe({ ...smoke, eval: { ...smoke.eval, perTask: 99 } }), /eval.perTask 99 exceeds data.heldout/);
  assert.throws(() => checkRecipe({ ...smoke, eval: { ...smoke.eval, compareStage: 'nope' } }), /compareStage "nope" is not one of the stages/);
  assert.throws(() => checkRecipe({ ...smoke, stages: [...smoke.stages, smoke.stages[0]!] }), /two stages are named "pretrain-text"/);
});

test('the demo model fits the 30 MB budget with a 2k vocabulary', () => {
  const m = demoModel;
  const config = tesseraConfigFromSizes({ vocabSize: 2048, imageTokenId: 3, audioTokenId: 4, hidden: m.hidden, layers: m.layers, heads: m.heads,
    kvHeads: m.kvHeads, maxPositions: m.maxPositions, vision: m.vision, audio: m.audio });
  const model = initTessera(config, 0);
  const params = [...model.namedParameters()].reduce((n, [, p]) => n + p.size, 0);
  const bytes = getRecipe('demo').saveDtype === 'float16' ? 2 : 4;
  assert.ok(params * bytes < 30e6, `${params} parameters × ${bytes} B = ${(params * bytes / 1e6).toFixed(1)} MB`);
  assert.ok((m.vision.imageSize / m.vision.patchSize) ** 2 <= 64, 'at most 64 image tokens');
});

test('whereQuestions: every object of an image with 2+ distinct pairs, answered by the half its centre is in', () => {
  const shape = (color: string, kind: string, cx: number) => ({ color, shape: kind, cx, cy: 60, size: 20, box: [cx - 10, 50, cx + 10, 70] });
  const metas = [
    { id: 'a', scene: { kind: 'shapes', shapes: [shape('red', 'circle', 30), shape('blue', 'square', 100)] } },
    { id: 'b', scene: { kind: 'shapes', shapes: [shape('red', 'circle', 30)] } }, // one object: nothing to choose
    { id: 'c', scene: { kind: 'shapes', shapes: [shape('red', 'circle', 30), shape('red', 'circle', 90)] } }, // ambiguous
    { id: 'd', scene: { kind: 'chart' } },
  ];
  const records = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, task: 'caption', image: `img/${id}.png`, conversations: [] }));
  const out = whereQuestions(records, metas) as { id: string; image: string; conversations: { value: string }[] }[];
  assert.deepEqual(out.map((x) => [x.id, x.image, x.conversations[0]!.value, x.conversations[1]!.value]), [
    ['where-a-0', 'img/a.png', '<image>\nIs the red circle in the left or right half?', 'left'],
    ['where-a-1', 'img/a.png', '<image>\nIs the blue square in the left or right half?', 'right'],
  ]);
});

test('barQuestions: the value of every bar of every chart image, by its letter; nothing for other scenes', () => {
  const metas = [
    { id: 'a', scene: { kind: 'chart', values: [4, 7, 1], labels: ['A', 'B', 'C'] } },
    { id: 'b', scene: { kind: 'shapes', shapes: [] } },
    { id: 'c', scene: { kind: 'chart', values: [9, 2, 5, 3], labels: ['A', 'B', 'C', 'D'] } },
  ];
  const records = [
    { id: 'a', task: 'chart-max', image: 'media/chart-max/img/a.png', conversations: [] },
    { id: 'b', task: 'caption', image: 'img/b.png', conversations: [] },
    { id: 'c', task: 'tool', image: 'img/c.png', conversations: [] },
    { id: 'd', task: 'chart-value', conversations: [] }, // no image: no questions
  ];
  const out = barQuestions(records, metas) as { id: string; task: string; image: string; conversations: { from: string; value: string }[] }[];
  assert.deepEqual(out.map((x) => [x.id, x.task, x.image, x.conversations[0]!.value, x.conversations[1]!.value]), [
    ['bars-a-0', 'chart-value', 'media/chart-max/img/a.png', '<image>\nWhat is the value of bar A?', '4'],
    ['bars-a-1', 'chart-value', 'media/chart-max/img/a.png', '<image>\nWhat is the value of bar B?', '7'],
    ['bars-a-2', 'chart-value', 'media/chart-max/img/a.png', '<image>\nWhat is the value of bar C?', '1'],
    ...[9, 2, 5, 3].map((v, i) => [`bars-c-${i}`, 'chart-value', 'img/c.png', `<image>\nWhat is the value of bar ${'ABCD'[i]}?`, String(v)]),
  ]);
  assert.deepEqual(out[0]!.conversations.map((t) => t.from), ['human', 'gpt']);
});

test('boxQuestions: the box of every object of a shape image in integer percent; none where two objects share a pair', () => {
  const obj = (color: string, shape: string, box: number[]) => ({ color, shape, cx: (box[0]! + box[2]!) / 2, cy: (box[1]! + box[3]!) / 2, size: box[2]! - box[0]!, box });
  const metas = [
    // IMAGE_SIZE is 128: 32 px is 25%, 64 is 50%, 19.2 is 15%
    { id: 'a', scene: { kind: 'shapes', shapes: [obj('red', 'circle', [32, 0, 64, 32]), obj('blue', 'square', [0, 64, 19.2, 128])] } },
    { id: 'b', scene: { kind: 'shapes', shapes: [obj('red', 'circle', [0, 0, 10, 10]), obj('red', 'circle', [50, 50, 60, 60])] } },
    { id: 'c', scene: { kind: 'chart', values: [1, 2, 3], labels: ['A', 'B', 'C'] } },
    { id: 'e', scene: { kind: 'shapes', shapes: [obj('green', 'triangle', [64, 64, 128, 128])] } },
  ];
  const records = ['a', 'b', 'c', 'e'].map((id) => ({ id, task: 'vqa-count', image: `img/${id}.png`, conversations: [] }));
  const out = boxQuestions([...records, { id: 'e', task: 'ground', conversations: [] }], metas) as { id: string; task: string; image: string; conversations: { from: string; value: string }[] }[];
  assert.deepEqual(out.map((x) => [x.id, x.task, x.image, x.conversations[0]!.value, x.conversations[1]!.value]), [
    ['box-a-0', 'ground', 'img/a.png', '<image>\nWhere is the red circle? Answer with a box.', '[25, 0, 50, 25]'],
    ['box-a-1', 'ground', 'img/a.png', '<image>\nWhere is the blue square? Answer with a box.', '[0, 50, 15, 100]'],
    ['box-e-0', 'ground', 'img/e.png', '<image>\nWhere is the green triangle? Answer with a box.', '[50, 50, 100, 100]'],
  ]);
});
