// Encoder pretraining by attribute prediction: scene → label vectors, and short pretrain-vision /
// pretrain-audio stages on the tiny tessera model in which the encoder and head train while the LLM and the
// projectors stay bit-identical.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthesize } from '../data/synthetic/synthesize.ts';
import { saveTessera } from '../models/tessera/checkpoint.ts';
import { tinyTessera } from '../models/tessera/tiny.ts';
import { audioLabels, imageLabels, patchLabels, patchTargets, sceneTarget } from './encoder-pretrain.ts';
import { readMetrics } from './metrics.ts';
import { runStage } from './run.ts';
import { parseStage } from './stages.ts';

test('scene targets: (color, shape) pairs for images, tone counts and digit words for audio', () => {
  const img = sceneTarget('image', { kind: 'shapes', shapes: [{ color: 'red', shape: 'circle' }, { color: 'orange', shape: 'triangle' }] })!;
  assert.deepEqual([...img.keys()].filter((i) => img[i] === 1).map((i) => imageLabels[i]), ['red circle', 'orange triangle']);
  assert.equal(sceneTarget('image', { kind: 'chart' }), null);
  const tones = sceneTarget('audio', { kind: 'tones', tones: [{}, {}, {}] })!;
  assert.deepEqual([...tones.keys()].filter((i) => tones[i] === 1).map((i) => audioLabels[i]), ['3 tones']);
  const speech = sceneTarget('audio', { kind: 'speech', words: ['four', 'two'] })!;
  assert.deepEqual([...speech.keys()].filter((i) => speech[i] === 1).map((i) => audioLabels[i]), ['says two', 'says four']);
});

test('patch targets: the color and shape of the object over each patch, none on background', () => {
  // a 4×4 grid of 32 px patches; the red square covers patch centres (48, 16) and (48, 48); the tiny blue circle
  // holds no patch centre, so the patch with its own centre (row 3, column 0) takes it
  const t = patchTargets({ kind: 'shapes', shapes: [
    { color: 'red', shape: 'square', cx: 50, cy: 30, box: [40, 10, 60, 50] },
    { color: 'blue', shape: 'circle', cx: 10, cy: 120, box: [5, 115, 15, 125] },
  ] }, 4)!;
  const K = patchLabels.length;
  const labelsAt = (r: number, c: number): string[] => patchLabels.filter((_, k) => t[(r * 4 + c) * K + k] === 1);
  assert.deepEqual(labelsAt(0, 1), ['red', 'square']);
  assert.deepEqual(labelsAt(1, 1), ['red', 'square']);
  assert.deepEqual(labelsAt(3, 0), ['blue', 'circle']);
  const objectPatches = Array.from({ length: 16 }, (_, p) => labelsAt(Math.floor(p / 4), p % 4).length).filter((n) => n > 0).length;
  assert.equal(objectPatches, 3);
  assert.equal(patchTargets({ kind: 'chart' }, 4), null);
});

test('pretrain-vision and pretrain-audio train the encoder and head only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-enc-'));
  try {
    const { model, processor } = tinyTessera(0);
    saveTessera(join(dir, 'init'), model, processor);
    await synthesize({ outDir: join(dir, 'img'), tasks: ['vqa-color', 'caption'], n: 4, seed: 2, split: 'train' });
    await synthesize({ outDir: join(dir, 'aud'), tasks: ['beeps', 'pitch'], n: 3, seed: 2, split: 'train' });
    const before = new Map([...model.namedParameters()].map(([n, p]) => [n, p.toFloat32Array()]));
    for (const [kind, part, data] of [['pretrain-vision', 'vision', 'img'], ['pretrain-audio', 'audio', 'aud']] as const) {
      const stage = parseStage({ name: kind, kind, trainable: [part], lr: { [part]: 3e-3 }, data: [{ path: `${data}/data.jsonl` }], steps: 4, batchSize: 4 });
      const out = join(dir, kind);
      const r = await runStage({ stage, outDir: out, modelDir: join(dir, 'init'), baseDir: dir, quiet: true, onBadRecord: 'fail' });
      const m = readMetrics(join(out, 'metrics.jsonl'));
      assert.equal(m.length, 4);
      assert.equal(typeof m[0]!.label_accuracy, 'number');
      if (kind === 'pretrain-vision') assert.equal(typeof m[0]!.patch_accuracy, 'number');
      console.log(`${kind}: loss ${m[0]!.loss} → ${m.at(-1)!.loss}, label accuracy ${m.at(-1)!.label_accuracy}`);
      const { model: after } = await import('../models/tessera/checkpoint.ts').then((c) => c.loadTessera(r.modelDir));
      let changed = 0;
      for (const [n, p] of after.namedParameters()) {
        const same = before.get(n)!.every((v, i) => Object.is(v, p.toFloat32Array()[i]));
        if (n.startsWith(`${part}.`)) changed += same ? 0 : 1;
        else assert.ok(same, `${kind}: ${n} must stay bit-identical`);
      }
      assert.ok(changed > 0, `${kind}: the ${part} encoder changed`);
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
