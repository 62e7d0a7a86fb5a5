// Stage configs: presets validate; bad configs fail with the file and every bad field named; lr lookup by
// longest prefix, with lr 0 or an absent part meaning frozen.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lrFor, parseStage, presets, presetStage, readStage } from './stages.ts';

const base = { name: 's', kind: 'align', trainable: ['visionProjector'], lr: { visionProjector: 1e-3 }, data: [{ path: 'a.jsonl' }], steps: 10 };

test('every preset validates and defaults are filled in', () => {
  for (const name of Object.keys(presets)) assert.equal(presetStage(name).name, name);
  const s = parseStage(base);
  assert.equal(s.batchSize, 8);
  assert.equal(s.data[0]!.weight, 1);
  assert.equal(s.dpo, undefined);
  assert.throws(() => presetStage('nope'), /unknown stage preset "nope"/);
});

test('invalid configs name the source and each bad field', () => {
  const cases: [unknown, RegExp][] = [
    [{ ...base, kind: 'finetune' }, /kind/],
    [{ ...base, steps: 0 }, /steps/],
    [{ ...base, lr: {} }, /no lr for trainable part "visionProjector"/],
    [{ ...base, lr: { visionProjector: 1e-3, llm: 1e-5 } }, /lr\.llm: lr given for "llm", which is not in trainable/],
    [{ ...base, lr: { visionProjector: -1 } }, /lr\.visionProjector/],
    [{ ...base, kind: 'dpo' }, /dpo: a dpo stage needs dpo/],
    [{ ...base, warmup: 20 }, /warmup 20 exceeds steps 10/],
    [{ ...base, evalEvery: 5 }, /evalEvery > 0 needs evalData/],
    [{ ...base, lora: { rank: 4, alpha: 8, targets: ['q_proj'] } }, /LoRA on "llm", which is not in trainable/],
    [{ ...base, data: [] }, /data/],
    [{ ...base, batchsize: 4 }, /batchsize/],
    [{ ...base, dpo: { beta: 0.1 } }, /dpo settings on a "align" stage/],
  ];
  for (const [cfg, re] of cases) {
    assert.throws(() => parseStage(cfg, 'stage.json'), (e: Error) => {
      assert.match(e.message, /^stage\.json: invalid stage config/);
      assert.match(e.message, re);
      return true;
    });
  }
});

test('readStage reports unreadable files and bad JSON with the path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-stage-'));
  try {
    const p = join(dir, 'bad.json');
    writeFileSync(p, '{"name": ');
    assert.throws(() => readStage(p), new RegExp(`${p}: stage config is not valid JSON`));
    assert.throws(() => readStage(join(dir, 'missing.json')), /missing\.json: cannot read stage config/);
    writeFileSync(p, JSON.stringify(base));
    assert.equal(readStage(p).kind, 'align');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('lrFor: longest trainable prefix wins; lr 0 and unlisted parts are frozen', () => {
  const s = { trainable: ['llm', 'llm.lm_head', 'visionProjector'], lr: { llm: 2e-5, 'llm.lm_head': 0, visionProjector: 1e-3 } };
  assert.deepEqual(lrFor(s, 'llm.model.layers.0.mlp.up_proj.weight'), { part: 'llm', lr: 2e-5 });
  assert.equal(lrFor(s, 'llm.lm_head.weight'), null);
  assert.deepEqual(lrFor(s, 'visionProjector.linear_1.weight'), { part: 'visionProjector', lr: 1e-3 });
  assert.equal(lrFor(s, 'vision.encoder.layers.0.fc1.weight'), null);
  assert.equal(lrFor(s, 'llmx.weight'), null, 'a prefix matches whole name segments only');
});
