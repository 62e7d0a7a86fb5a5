import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boxIoU, chanceLevel, evaluateExpression, exactMatch, normalizeAnswer, parseBox, parseToolCall, scoreAnswer, scoreTool, summarize } from './score.ts';
import { ALL_TASKS } from './vocab.ts';

test('normalisation: case, trim, white space, one trailing period', () => {
  assert.equal(normalizeAnswer('  A  Red\tCircle.  '), 'a red circle');
  assert.equal(normalizeAnswer('yes..'), 'yes.');
  assert.ok(exactMatch('Left.', 'left'));
  assert.ok(!exactMatch('lefts', 'left'));
  assert.ok(!exactMatch('3 5', '35'));
});

test('ground: first four integers, IoU ≥ 0.5', () => {
  assert.deepEqual(parseBox('box: [10, 20, 30, 40] or so 99'), [10, 20, 30, 40]);
  assert.equal(parseBox('[1, 2, 3]'), null);
  assert.equal(boxIoU([0, 0, 10, 10], [0, 0, 10, 10]), 1);
  assert.equal(boxIoU([0, 0, 10, 10], [5, 0, 15, 10]), 50 / 150);
  assert.equal(boxIoU([0, 0, 10, 10], [20, 20, 30, 30]), 0);
  assert.ok(scoreAnswer('ground', 'The box is [11, 10, 31, 30].', '[10, 10, 30, 30]'));
  assert.ok(!scoreAnswer('ground', '[20, 10, 40, 30]', '[10, 10, 30, 30]')); // IoU 1/3
  assert.ok(!scoreAnswer('ground', 'top left', '[10, 10, 30, 30]'));
  assert.throws(() => scoreAnswer('ground', '[1, 2, 3, 4]', 'nothing'), /holds no box/);
});

test('calculator expressions evaluate without eval and reject junk', () => {
  assert.equal(evaluateExpression('3+7+2'), 12);
  assert.equal(evaluateExpression(' 2 * (3 + 4) - 10 / 5 '), 12);
  assert.equal(evaluateExpression('-3+5'), 2);
  assert.throws(() => evaluateExpression('3+'), /ends early/);
  assert.throws(() => evaluateExpression('process.exit()'), /unexpected/);
  assert.throws(() => evaluateExpression('(1+2'), /missing \)/);
});

test('tool calls are read from objects, OpenAI shapes, turns and text', () => {
  const call = { name: 'calculator', arguments: { expression: '3+7+2' } };
  assert.deepEqual(parseToolCall(call), call);
  assert.deepEqual(parseToolCall({ function: { name: 'calculator', arguments: '{"expression":"3+7+2"}' } }), call);
  assert.deepEqual(parseToolCall({ from: 'gpt', value: '', tool_calls: [call] }), call);
  assert.deepEqual(parseToolCall(`<tool_call>${JSON.stringify(call)}</tool_call>`), call);
  assert.equal(parseToolCall('the answer is 12'), null);
  assert.equal(parseToolCall({ name: 'calculator', arguments: { expr: '1' } }), null);
});

test('tool scoring needs the right call and the right final answer', () => {
  const call = { name: 'calculator', arguments: { expression: '3+7+2' } };
  assert.ok(scoreTool({ call, final: '12' }, 12));
  assert.ok(scoreTool({ call: { name: 'calculator', arguments: { expression: '2+3+7' } }, final: '12.' }, 12));
  assert.ok(!scoreTool({ call, final: '13' }, 12));
  assert.ok(!scoreTool({ call: { name: 'search', arguments: { expression: '3+7+2' } }, final: '12' }, 12));
  assert.ok(!scoreTool({ call: { name: 'calculator', arguments: { expression: '3+7' } }, final: '12' }, 12));
  assert.ok(!scoreTool({ call: { name: 'calculator', arguments: { expression: '3+' } }, final: '12' }, 12));
  assert.throws(() => scoreAnswer('tool', '12', '12'), /scoreTool/);
});

test('chance levels exist for every task and summaries count per task', () => {
  for (const t of ALL_TASKS) {
    const c = chanceLevel(t);
    assert.ok(c >= 0 && c <= 0.5, `${t}: ${c}`);
  }
  assert.equal(chanceLevel('vqa-exist'), 0.5);
  const s = summarize([{ task: 'pitch', correct: true }, { task: 'pitch', correct: false }, { task: 'beeps', correct: true }]);
  assert.deepEqual(s.map((r) => [r.task, r.count, r.accuracy]), [['pitch', 2, 0.5], ['beeps', 1, 1]]);
  assert.equal(s[1]!.chance, 0.2);
});
