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
import { Rng } from '../tensor/index.ts';
import { AttributeModel, attributeObjective, audioLabels, ctcLabels, freshImageSamples, imageLabels, patchLabels, patchTargets, sceneSequence, sceneTarget } from './encoder-pretrain.ts';
import { readMetrics } from './metrics.ts';
import { runStage } from './run.ts';
import { parseStage } from './stages.ts';

test('scene targets: (color, shape) pairs for images, tone counts and digit words for audio', () => {
  const img = sceneTarget('image', { kind: 'shapes', shapes: [{ color: 'red', shape: 'circle' }, { color: 'orange', shape: 'triangle' }] })!;
  assert.deepEqual([...img.keys()].filter((i) => img[i] === 1).map((i) => imageLabels[i]), ['red circle', 'orange triangle']);
  // charts and text hold no (color, shape) pair: all labels 0
  assert.deepEqual([...sceneTarget('image', { kind: 'chart' })!], new Array(imageLabels.length).fill(0));
  const tones = sceneTarget('audio', { kind: 'tones', tones: [{}, {}, {}] })!;
  assert.deepEqual([...tones.keys()].filter((i) => tones[i] === 1).map((i) => audioLabels[i]), ['3 tones']);
  const speech = sceneTarget('audio', { kind: 'speech', words: ['four', 'two'] })!;
  assert.deepEqual([...speech.keys()].filter((i) => speech[i] === 1).map((i) => audioLabels[i]), ['says two', 'says four']);
});

test('CTC sequences: the digit words in spoken order (repeats kept), one tone per tone, none for images', () => {
  const names = (q: number[] | null) => q?.map((i) => ctcLabels[i]);
  assert.deepEqual(names(sceneSequence({ kind: 'speech', words: ['four', 'two', 'four'] })), ['four', 'two', 'four']);
  assert.deepEqual(names(sceneSequence({ kind: 'tones', tones: [{}, {}, {}] })), ['tone', 'tone', 'tone']);
  assert.equal(sceneSequence({ kind: 'speech', words: ['four', 'eleven'] }), null);
  assert.equal(sceneSequence({ kind: 'shapes', shapes: [] }), null);
  assert.ok(!sceneSequence({ kind: 'speech', words: ['zero'] })!.includes(0), 'no word maps to the blank');
});

test('the audio objective trains the CTC head from clips with a sequence, and adds its loss to the attribute loss', () => {
  const { model } = tinyTessera(0);
  const m = new AttributeModel(model, 'audio', 0), obj = attributeObjective(m);
  const M = model.config.audio!.whisper.numMelBins, F = 300;
  const rng = new Rng(1);
  const clip = (sequence: number[] | null, length: number) => ({
    media: Float32Array.from({ length: M * F }, () => rng.normal()), length, target: new Float32Array(audioLabels.length), patches: null, sequence,
  });
  const samples = [clip([1, 2], 300), clip(null, 200), clip([11, 11, 11], 260)];
  const ctcGrad = (xs: typeof samples) => {
    for (const p of m.parameters()) p.grad = null;
    const r = obj.lossSum(obj.collate(xs));
    r.loss.backward();
    const g = m.attributeHead.ctc!.weight.grad;
    return { loss: r.loss.item(), sums: r.sums ?? {}, norm: g ? g.toFloat32Array().reduce((a, v) => a + v * v, 0) : 0 };
  };
  assert.equal(obj.tokens(obj.collate(samples)), 3 * F / 2, 'tokens/s counts encoder frames (the conv stem halves the mel frames)');
  const withSeq = ctcGrad(samples), without = ctcGrad(samples.map((x) => ({ ...x, sequence: null })));
  assert.ok(withSeq.norm > 0, 'the CTC head gets a gradient');
  assert.equal(without.norm, 0, 'no sequence, no CTC gradient');
  assert.ok(withSeq.loss > without.loss + 1, `the CTC loss is added: ${withSeq.loss} vs ${without.loss} without`);
  assert.equal(typeof withSeq.sums.ctc_digits_accuracy, 'number');
  assert.equal(typeof withSeq.sums.ctc_tones_accuracy, 'number');
  assert.equal(without.sums.ctc_digits_accuracy, undefined);
});

test('patch targets: the color, shape and box of the object over each patch, none on background', () => {
  // a 4×4 grid of 32 px patches; the red square covers patch centres (48, 16) and (48, 48); the tiny blue circle
  // holds no patch centre, so the patch with its own centre (row 3, column 0) takes it
  const t = patchTargets({ kind: 'shapes', shapes: [
    { color: 'red', shape: 'square', cx: 50, cy: 30, box: [40, 10, 60, 50] },
    { color: 'blue', shape: 'circle', cx: 10, cy: 120, box: [5, 115, 15, 125] },
  ] }, 4)!;
  const K = patchLabels.length;
  const labelsAt = (r: number, c: number): string[] => patchLabels.filter((_, k) => t[(r * 4 + c) * K + k] === 1);
  // every patch of an object carries the whole object's box, its edges in 5% steps: 40 px = 31.25% → 30
  const square = ['red', 'square', 'left 30', 'top 10', 'right 45', 'bottom 40'];
  assert.deepEqual(labelsAt(0, 1), square);
  assert.deepEqual(labelsAt(1, 1), square);
  assert.deepEqual(labelsAt(3, 0), ['blue', 'circle', 'left 5', 'top 90', 'right 10', 'bottom 100']);
  const objectPatches = Array.from({ length: 16 }, (_, p) => labelsAt(Math.floor(p / 4), p % 4).length).filter((n) => n > 0).length;
  assert.equal(objectPatches, 3);
  assert.equal(patchTargets({ kind: 'chart' }, 4), null);
});

test('patch targets of text: each character on the patches of its advance box, also when rotated', () => {
  const K = patchLabels.length;
  const at = (t: Float32Array, r: number, c: number, g = 8): string[] => patchLabels.filter((_, k) => t[(r * g + c) * K + k] === 1);
  // "AB" 40 px wide, 20 px high, centred at (64, 40): A spans x 44–64, B 64–84 (16 px patches: columns 2–5, row 2)
  const flat = patchTargets({ kind: 'text', text: 'AB', height: 20, inkWidth: 40, angle: 0, center: [64, 40], spans: [[0, 20], [20, 40]] }, 8)!;
  assert.deepEqual(at(flat, 2, 3), ['char A', 'index 0']);
  assert.deepEqual(at(flat, 2, 4), ['char B', 'index 1']);
  assert.deepEqual(at(flat, 0, 3), []);
  assert.deepEqual(at(flat, 4, 3), []);
  // rotated by 90°: the line runs down the image, A above B
  const down = patchTargets({ kind: 'text', text: 'AB', height: 20, inkWidth: 40, angle: Math.PI / 2, center: [64, 64], spans: [[0, 20], [20, 40]] }, 8)!;
  assert.deepEqual(at(down, 3, 3), ['char A', 'index 0']);
  assert.deepEqual(at(down, 4, 3), ['char B', 'index 1']);
  // without the recorded geometry (a meta.jsonl from before it was kept) there are no targets
  assert.equal(patchTargets({ kind: 'text', text: 'AB', height: 20, angle: 0 }, 8), null);
});

test('patch targets of a chart: bars carry their value, letters their letter and their bar\'s value', () => {
  const K = patchLabels.length;
  const at = (t: Float32Array, r: number, c: number): string[] => patchLabels.filter((_, k) => t[(r * 8 + c) * K + k] === 1);
  // plot y 20–110 with top 9: 10 px per unit; bar A (value 9) centred at x 40, bar B (value 2) at x 88, 12 px wide
  const t = patchTargets({ kind: 'chart', values: [9, 2], labels: ['A', 'B'], top: 9, plot: { y0: 20, y1: 110 },
    bars: { centers: [40, 88], width: 12, labelSize: 10 } }, 8)!;
  assert.deepEqual(at(t, 2, 2), ['value 9']); // patch centre (40, 40) inside bar A
  assert.deepEqual(at(t, 2, 5), []); // above bar B (its top is y 90)
  assert.deepEqual(at(t, 5, 5), ['value 2']); // the patch holding B's top
  assert.deepEqual(at(t, 7, 2), ['char A', 'value 9']); // letter A, 3 px under the baseline
  assert.deepEqual(at(t, 7, 5), ['char B', 'value 2']);
});

test('images drawn afresh: the same index gives the same image and labels; shapes, text and charts all occur', () => {
  const { processor } = tinyTessera(0);
  const a = freshImageSamples('images', processor, 4, 7, 100), b = freshImageSamples('images', processor, 4, 7, 100);
  assert.equal(a.length, 100);
  const K = patchLabels.length, groups = new Set<string>();
  for (let i = 0; i < 24; i++) {
    const x = a.at(i)!, y = b.at(i)!;
    assert.deepEqual(x.media, y.media);
    assert.deepEqual(x.patches, y.patches);
    assert.equal(x.media.length, 3 * 32 * 32); // drawn at 128 px, resized to the tiny tower's 32
    for (let k = 0; k < x.patches!.length; k++) if (x.patches![k] === 1) groups.add(patchLabels[k % K]!.split(' ')[0]!);
  }
  for (const g of ['char', 'index', 'value', 'square', 'red', 'left', 'bottom']) assert.ok(groups.has(g), [...groups].join(','));
  assert.notDeepEqual(a.at(0)!.media, a.at(1)!.media);
});

test('generate:reading draws half text, half charts; generate:images half shape scenes', () => {
  const { processor } = tinyTessera(0);
  const K = patchLabels.length;
  const shares = (kind: 'images' | 'reading', n: number) => {
    const set = freshImageSamples(kind, processor, 4, 11, n), count = { shapes: 0, text: 0, chart: 0 };
    for (let i = 0; i < n; i++) {
      const x = set.at(i)!;
      const labels = new Set<string>();
      for (let k = 0; k < x.patches!.length; k++) if (x.patches![k] === 1) labels.add(patchLabels[k % K]!.split(' ')[0]!);
      // shape scenes name their pairs in the pooled target; text and charts hold none
      if (x.target.some((v) => v === 1)) count.shapes++;
      else if (labels.has('value')) count.chart++;
      else { assert.ok(labels.has('char'), `sample ${i}: neither shapes, a chart nor text`); count.text++; }
    }
    return count;
  };
  const r = shares('reading', 300); // expected 0 / 150 / 150 (binomial sd 8.7)
  assert.ok(r.shapes === 0 && r.text >= 120 && r.chart >= 120, JSON.stringify(r));
  const m = shares('images', 200); // expected 100 / 50 / 50
  assert.ok(m.shapes >= 75 && m.shapes <= 125 && m.text >= 28 && m.chart >= 28, JSON.stringify(m));
});

test('pretrain-vision and pretrain-audio train the encoder and head only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-enc-'));
  try {
    const { model, processor } = tinyTessera(0);
    saveTessera(join(dir, 'init'), model, processor);
    await synthesize({ outDir: join(dir, 'img'), tasks: ['vqa-color', 'caption'], n: 4, seed: 2, split: 'train' });
    await synthesize({ outDir: join(dir, 'aud'), tasks: ['beeps', 'pitch', 'asr-digits'], n: 3, seed: 2, split: 'train' });
    const before = new Map([...model.namedParameters()].map(([n, p]) => [n, p.toFloat32Array()]));
    for (const [kind, part, data] of [['pretrain-vision', 'vision', 'img/data.jsonl'], ['pretrain-audio', 'audio', 'aud/data.jsonl'], ['pretrain-vision', 'vision', 'generate:images']] as const) {
      const stage = parseStage({ name: kind, kind, trainable: [part], lr: { [part]: 3e-3 }, data: [{ path: data }], steps: 4, batchSize: 4 });
      const out = join(dir, `${kind}-${data.replace(/\W/g, '')}`);
      const r = await runStage({ stage, outDir: out, modelDir: join(dir, 'init'), baseDir: dir, quiet: true, onBadRecord: 'fail' });
      const m = readMetrics(join(out, 'metrics.jsonl'));
      assert.equal(m.length, 4);
      assert.equal(typeof m[0]!.label_accuracy, 'number');
      if (kind === 'pretrain-vision') assert.equal(typeof m[0]!.patch_accuracy, 'number');
      // the CTC head reads both kinds of clip (the pooled head alone does not log these)
      const logged = (key: string) => m.some((r) => typeof r[key] === 'number');
      if (kind === 'pretrain-audio') assert.ok(logged('ctc_digits_accuracy') && logged('ctc_tones_accuracy'));
      if (data === 'generate:images') assert.equal(typeof m.reduce((v, r) => v ?? r.patch_char_accuracy, undefined as unknown), 'number');
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

test('a generate: data path is refused where nothing can draw it, naming the path', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-gen-'));
  try {
    const { model, processor } = tinyTessera(0);
    saveTessera(join(dir, 'init'), model, processor);
    const run = (kind: 'pretrain-vision' | 'pretrain-audio' | 'align', path: string) => runStage({
      stage: parseStage({ name: kind, kind, trainable: ['vision'], lr: { vision: 1e-3 }, data: [{ path }], steps: 1, batchSize: 2 }),
      outDir: join(dir, `${kind}-${path.replace(/\W/g, '')}`), modelDir: join(dir, 'init'), baseDir: dir, quiet: true,
    });
    await assert.rejects(run('pretrain-vision', 'generate:sounds'), /cannot draw "generate:sounds" \(a pretrain-vision stage draws generate:shapes, generate:images, generate:reading\)/);
    await assert.rejects(run('pretrain-audio', 'generate:images'), /cannot draw "generate:images"/);
    await assert.rejects(run('align', 'generate:images'), /data "generate:images": align stages read files/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('the image objective counts a batch in patches for tokens/s', () => {
  const { model } = tinyTessera(0);
  const obj = attributeObjective(new AttributeModel(model, 'image', 0));
  const { imageSize: side, patchSize } = model.config.vision!.vit;
  const image = () => ({ media: new Float32Array(3 * side * side), length: 0, target: new Float32Array(imageLabels.length), patches: null, sequence: null });
  assert.equal(obj.tokens(obj.collate([image(), image()])), 2 * (side / patchSize) ** 2);
});
