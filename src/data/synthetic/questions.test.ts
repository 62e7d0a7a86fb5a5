// The extra questions a scene answers agree with the task generators: wherever a generator asked the same
// question of the same scene, the answer is the same, and the generator's own question is among them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from './prng.ts';
import { sceneQuestions } from './questions.ts';
import type { Sample } from './sample.ts';
import { GENERATORS } from './tasks.ts';
import { ALL_TASKS, COLORS, SHAPES, isHeldoutPair } from './vocab.ts';
import type { TaskName } from './vocab.ts';

const tmp = mkdtempSync(join(tmpdir(), 'synth-questions-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

async function gen(task: TaskName, n: number): Promise<Sample[]> {
  const out: Sample[] = [];
  for (let i = 0; i < n; i++) out.push(await GENERATORS[task]({ rng: Rng.fork(5, 'train', task, i), split: 'train', index: i, tmpDir: tmp, tag: `${task}-${i}` }));
  return out;
}

const SPEECH: readonly TaskName[] = ['asr-digits', 'audio-number', 'cross-count'];
// tasks whose own question sceneQuestions must ask too (a vqa-exist "no" names one near miss of several)
const ASKED: readonly TaskName[] = ['caption', 'vqa-color', 'vqa-shape', 'vqa-count', 'vqa-position', 'ground', 'chart-value', 'chart-max', 'asr-digits', 'audio-number'];

test('every extra question a scene answers agrees with the generators, and its own question is among them', async () => {
  const perTask = new Map<string, number>();
  for (const task of ALL_TASKS) {
    for (const s of await gen(task, SPEECH.includes(task) ? 6 : 80)) {
      const qs = sceneQuestions(s.scene, 'train', Rng.fork(1, s.question));
      for (const q of qs) perTask.set(q.task, (perTask.get(q.task) ?? 0) + 1);
      const same = qs.filter((q) => q.question === s.question);
      for (const q of same) assert.equal(q.answer, s.answer, `${task}: "${s.question}"`);
      if (ASKED.includes(task)) assert.equal(same.length, 1, `${task}: "${s.question}" not asked of its own scene`);
      if (task === 'vqa-exist' && s.answer === 'yes') assert.equal(same.length, 1, `vqa-exist: "${s.question}"`);
      // a question is asked once, and a training text never names a held-out pair
      assert.equal(new Set(qs.map((q) => q.question)).size, qs.length, `${task}: a question asked twice`);
      for (const q of qs) {
        for (const color of COLORS) for (const shape of SHAPES) {
          if (isHeldoutPair({ color, shape }) && q.question.includes(`${color} ${shape}`)) assert.fail(`${task}: "${q.question}" names a held-out pair`);
        }
      }
      if (task === 'ocr' || task === 'beeps' || task === 'pitch') assert.deepEqual(qs, [], `${task} scenes answer one question`);
    }
  }
  // every card task but ocr, beeps, pitch and tool is asked somewhere
  for (const t of ['caption', 'vqa-color', 'vqa-shape', 'vqa-count', 'vqa-position', 'vqa-exist', 'ground', 'chart-value', 'chart-max', 'asr-digits', 'audio-number']) {
    assert.ok((perTask.get(t) ?? 0) > 0, `no ${t} question drawn`);
  }
});

test('vqa-exist: a yes for every present pair, at most as many noes, each naming an absent pair', async () => {
  for (const s of await gen('caption', 60)) {
    if (s.scene.kind !== 'shapes') continue;
    const exist = sceneQuestions(s.scene, 'train', Rng.fork(2, s.question)).filter((q) => q.task === 'vqa-exist');
    const yes = exist.filter((q) => q.answer === 'yes'), no = exist.filter((q) => q.answer === 'no');
    assert.equal(yes.length, s.scene.shapes.length);
    assert.ok(no.length <= yes.length && no.length > 0);
    for (const q of no) assert.ok(!s.scene.shapes.some((x) => q.question.includes(` ${x.color} ${x.shape} `)), q.question);
  }
});
