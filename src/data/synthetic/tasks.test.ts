// Every task's answer agrees with what the generator drew (its scene record), and the card's drawing rules hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from './prng.ts';
import { boxPercent, layoutProblems } from './layout.ts';
import type { PlacedShape } from './layout.ts';
import type { Sample, Scene } from './sample.ts';
import { boxIoU, evaluateExpression, parseBox } from './score.ts';
import { GENERATORS } from './tasks.ts';
import { DIGIT_WORDS, HELDOUT_CHART_STYLES, HELDOUT_FONTS, HELDOUT_VARIANTS, HELDOUT_VOICES, isHeldoutPair, samePair, withArticle } from './vocab.ts';
import type { Split, TaskName } from './vocab.ts';

const tmp = mkdtempSync(join(tmpdir(), 'synth-tasks-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

async function gen(task: TaskName, split: Split, n: number, seed = 11): Promise<Sample[]> {
  const out: Sample[] = [];
  for (let i = 0; i < n; i++) out.push(await GENERATORS[task]({ rng: Rng.fork(seed, split, task, i), split, index: i, tmpDir: tmp, tag: `${task}-${i}` }));
  return out;
}

function shapesOf(s: Sample): readonly PlacedShape[] {
  const sc: Scene = s.scene;
  if (sc.kind === 'shapes') return sc.shapes;
  if (sc.kind === 'cross') return sc.circles;
  throw new Error(`${s.task}: no shapes in scene`);
}

const SHAPE_TASKS: TaskName[] = ['caption', 'vqa-color', 'vqa-shape', 'vqa-count', 'vqa-position', 'vqa-exist', 'ground'];

test('shape layouts follow the card and train images never hold a held-out pair', async () => {
  let heldoutSeen = 0;
  for (const task of SHAPE_TASKS) {
    for (const split of ['train', 'heldout'] as const) {
      for (const s of await gen(task, split, 60)) {
        const shapes = shapesOf(s);
        assert.deepEqual(layoutProblems(shapes), [], `${task}: ${s.question}`);
        assert.ok(s.image && s.image.length > 100);
        if (split === 'train') {
          assert.ok(!shapes.some(isHeldoutPair), `${task} train image has a held-out pair`);
          assert.ok(!/purple triangle|yellow square/.test(s.question), `${task} train question names a held-out pair`);
        } else if (shapes.some(isHeldoutPair)) heldoutSeen++;
      }
    }
  }
  assert.ok(heldoutSeen > 100, `held-out pairs appear in held-out items (${heldoutSeen})`);
});

test('shape answers agree with the drawn scene', async () => {
  for (const s of await gen('caption', 'train', 80)) {
    const sorted = shapesOf(s).slice().sort((a, b) => a.cx - b.cx).map((x) => withArticle(x.color, x.shape));
    for (const name of sorted) assert.ok(s.answer.includes(name));
    assert.equal(s.answer.split(/, | and /).length, sorted.length);
    assert.ok(!/\ba orange/.test(s.answer));
  }
  for (const s of await gen('vqa-color', 'train', 80)) {
    const shape = s.question.match(/the (\w+)\?/)![1];
    const hits = shapesOf(s).filter((x) => x.shape === shape);
    assert.equal(hits.length, 1);
    assert.equal(s.answer, hits[0]!.color);
  }
  for (const s of await gen('vqa-shape', 'train', 80)) {
    const color = s.question.match(/the (\w+) object/)![1];
    const hits = shapesOf(s).filter((x) => x.color === color);
    assert.equal(hits.length, 1);
    assert.equal(s.answer, hits[0]!.shape);
  }
  for (const s of await gen('vqa-count', 'train', 80)) {
    const shape = s.question.match(/many (\w+)s are/)![1];
    const n = shapesOf(s).filter((x) => x.shape === shape).length;
    assert.equal(s.answer, String(n));
    assert.ok(n >= 1 && n <= 6 && shapesOf(s).length - n <= 2);
  }
  for (const s of await gen('vqa-position', 'train', 80)) {
    const [, c1, s1, c2, s2] = s.question.match(/the (\w+) (\w+) to the left or right of the (\w+) (\w+)\?/)!;
    const shapes = shapesOf(s);
    assert.equal(shapes.length, 2);
    const a = shapes.find((x) => x.color === c1 && x.shape === s1)!;
    const b = shapes.find((x) => x.color === c2 && x.shape === s2)!;
    assert.ok(Math.abs(a.cx - b.cx) >= 20);
    assert.equal(s.answer, a.cx < b.cx ? 'left' : 'right');
  }
  const exist = await gen('vqa-exist', 'heldout', 80);
  assert.equal(exist.filter((s) => s.answer === 'yes').length, 40);
  for (const s of exist) {
    const [, color, shape] = s.question.match(/Is there an? (\w+) (\w+) in the image\?/)!;
    const asked = { color, shape } as PlacedShape;
    const shapes = shapesOf(s);
    assert.equal(s.answer, shapes.some((x) => samePair(x, asked)) ? 'yes' : 'no');
    if (s.answer === 'no') assert.ok(shapes.some((x) => x.color === color || x.shape === shape), 'a no is a near miss');
    assert.equal(s.rejected, s.answer === 'yes' ? 'no' : 'yes');
  }
  for (const s of await gen('ground', 'train', 80)) {
    const [, color, shape] = s.question.match(/the (\w+) (\w+)\? Answer/)!;
    const t = shapesOf(s).find((x) => x.color === color && x.shape === shape)!;
    assert.deepEqual(parseBox(s.answer), boxPercent(t.box));
    assert.ok(boxIoU(parseBox(s.rejected)!, parseBox(s.answer)!) < 0.5);
  }
});

test('ocr, charts and tool answers agree with the scene; held-out fonts and styles stay out of train', async () => {
  for (const split of ['train', 'heldout'] as const) {
    for (const s of await gen('ocr', split, 60)) {
      assert.ok(/^([A-Z]{3,6}|\d{1,4})$/.test(s.answer), s.answer);
      assert.ok(s.scene.kind === 'text' && s.scene.text === s.answer);
      if (s.scene.kind === 'text') {
        assert.ok(s.scene.height >= 18 && s.scene.height <= 36, `ink height ${s.scene.height}`);
        if (split === 'train') assert.ok(!HELDOUT_FONTS.includes(s.scene.font));
      }
    }
    for (const task of ['chart-value', 'chart-max', 'tool'] as const) {
      for (const s of await gen(task, split, 40)) {
        const sc = s.scene;
        assert.ok(sc.kind === 'chart');
        if (sc.kind !== 'chart') continue;
        assert.ok(sc.values.length >= 3 && sc.values.length <= 5 && sc.values.every((v) => Number.isInteger(v) && v >= 1 && v <= 9));
        assert.ok(sc.top === 9 || sc.top === 10);
        if (split === 'train') assert.ok(!HELDOUT_CHART_STYLES.includes(sc.style));
        if (task === 'chart-value') assert.equal(s.answer, String(sc.values[sc.labels.indexOf(s.question.match(/bar (\w)\?/)![1]!)]));
        if (task === 'chart-max') {
          const max = Math.max(...sc.values);
          assert.equal(sc.values.filter((v) => v === max).length, 1);
          assert.equal(s.answer, sc.labels[sc.values.indexOf(max)]);
        }
        if (task === 'tool') {
          const sum = sc.values.reduce((a, v) => a + v, 0);
          const call = s.reply[0]!.tool_calls![0]!;
          assert.equal(call.name, 'calculator');
          assert.equal(call.arguments.expression, sc.values.join('+'));
          assert.equal(evaluateExpression(call.arguments.expression), sum);
          assert.deepEqual(s.reply.slice(1), [{ from: 'tool', value: String(sum) }, { from: 'gpt', value: String(sum) }]);
        }
      }
    }
  }
});

test('tone tasks: counts, frequency and duration ranges, pitch direction', async () => {
  for (const s of await gen('beeps', 'train', 60)) {
    assert.ok(s.scene.kind === 'tones');
    if (s.scene.kind !== 'tones') continue;
    const t = s.scene.tones;
    assert.equal(s.answer, String(t.length));
    assert.ok(t.length >= 1 && t.length <= 5 && s.scene.seconds <= 3);
    t.forEach((b, i) => {
      assert.ok(b.freq >= 300 && b.freq <= 1500 && b.dur >= 0.06 && b.dur <= 0.25);
      if (i > 0) {
        const gap = b.start - (t[i - 1]!.start + t[i - 1]!.dur);
        assert.ok(gap >= 0.06 - 1e-9 && gap <= 0.25);
      }
    });
  }
  for (const s of await gen('pitch', 'train', 60)) {
    assert.ok(s.scene.kind === 'tones');
    if (s.scene.kind !== 'tones') continue;
    const [a, b] = s.scene.tones;
    assert.ok(a && b && s.scene.tones.length === 2);
    assert.ok(Math.abs(12 * Math.log2(b.freq / a.freq)) >= 3);
    assert.ok(a.dur >= 0.15 && a.dur <= 0.4 && b.dur >= 0.15 && b.dur <= 0.4);
    assert.equal(s.answer, b.freq > a.freq ? 'higher' : 'lower');
  }
});

test('speech tasks: answers from the spoken words, held-out voices stay out of train, cross-count balanced', async () => {
  for (const split of ['train', 'heldout'] as const) {
    for (const task of ['asr-digits', 'audio-number'] as const) {
      for (const s of await gen(task, split, 8)) {
        assert.ok(s.scene.kind === 'speech');
        if (s.scene.kind !== 'speech') continue;
        const digits = s.scene.words.map((w) => DIGIT_WORDS.indexOf(w as (typeof DIGIT_WORDS)[number]));
        assert.equal(s.answer, task === 'asr-digits' ? s.scene.words.join(' ') : digits.join(''));
        assert.ok(s.scene.seconds <= 3);
        const [base, variant] = s.scene.voice.split('+');
        if (split === 'train') assert.ok(!HELDOUT_VOICES.includes(base!) && !HELDOUT_VARIANTS.includes(variant ?? ''), s.scene.voice);
      }
    }
  }
  const cross = await gen('cross-count', 'train', 8);
  assert.equal(cross.filter((s) => s.answer === 'yes').length, 4);
  for (const s of cross) {
    assert.ok(s.scene.kind === 'cross');
    if (s.scene.kind !== 'cross') continue;
    assert.ok(s.scene.circles.every((c) => c.shape === 'circle'));
    const spoken = DIGIT_WORDS.indexOf(s.scene.speech.words[0] as (typeof DIGIT_WORDS)[number]);
    assert.ok(spoken >= 1 && spoken <= 6);
    assert.equal(s.answer, spoken === s.scene.circles.length ? 'yes' : 'no');
    assert.deepEqual(layoutProblems(s.scene.circles), []);
  }
});
