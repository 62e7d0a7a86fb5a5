// Scoring of predictions by the card's rules: exact match after normalising, IoU for `ground`, and for
// `tool` a calculator call whose expression evaluates to the true sum plus the right final answer; the
// report format lists accuracy, chance and the no-media baseline per task.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReport, scorePrediction } from './evaluate.ts';
import type { TaskRecord } from './predict.ts';
import type { TaskName } from '../data/synthetic/vocab.ts';

const rec = (task: TaskName, reference: string): TaskRecord & { task: TaskName } => ({ id: 'r', task, images: [], audios: [], prompt: [], reference });

test('predictions are scored by the card rules', () => {
  assert.equal(scorePrediction(rec('vqa-color', 'red'), { id: 'r', answer: ' Red.' }), true);
  assert.equal(scorePrediction(rec('vqa-color', 'red'), { id: 'r', answer: 'blue' }), false);
  assert.equal(scorePrediction(rec('ground', '[10, 10, 50, 50]'), { id: 'r', answer: '[12, 11, 49, 52]' }), true);
  const call = { name: 'calculator', arguments: { expression: '3+7+2' } };
  assert.equal(scorePrediction(rec('tool', '12'), { id: 'r', turns: [call, '12'] }), true);
  assert.equal(scorePrediction(rec('tool', '12'), { id: 'r', turns: [call, '13'] }), false);
  assert.equal(scorePrediction(rec('tool', '12'), { id: 'r', turns: [{ name: 'calculator', arguments: { expression: '3+7' } }, '12'] }), false);
  assert.equal(scorePrediction(rec('tool', '12'), { id: 'r', answer: '12' }), false, 'a tool record needs the call');
});

test('the report has accuracy, chance and no-media baseline per task', () => {
  const text = formatReport({ data: 'x.jsonl', tasks: [{ task: 'vqa-color', count: 4, accuracy: 0.75, chance: 1 / 6, baseline: 0.25 }], overall: { count: 4, accuracy: 0.75, baseline: 0.25 } });
  assert.match(text, /vqa-color\s+4\s+75\.0%\s+16\.7%\s+25\.0%/);
  assert.match(text, /no-media/);
});
