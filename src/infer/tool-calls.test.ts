import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseToolCalls, ToolCallHoldback } from './tool-calls.ts';

test('one <tool_call> block becomes an OpenAI tool call with JSON-string arguments', () => {
  const r = parseToolCalls('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>');
  assert.equal(r.content, null);
  assert.equal(r.toolCalls.length, 1);
  const c = r.toolCalls[0]!;
  assert.match(c.id, /^call_[\w-]+$/);
  assert.equal(c.type, 'function');
  assert.equal(c.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(c.function.arguments), { city: 'Paris' });
});

test('several calls keep their order, and surrounding text is the content', () => {
  const r = parseToolCalls('Let me check.\n<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n</tool_call>\n<tool_call>\n{"name": "b", "arguments": "{\\"y\\": 2}"}\n</tool_call>');
  assert.equal(r.content, 'Let me check.');
  assert.deepEqual(r.toolCalls.map((c) => c.function.name), ['a', 'b']);
  assert.deepEqual(JSON.parse(r.toolCalls[1]!.function.arguments), { y: 2 });
  assert.notEqual(r.toolCalls[0]!.id, r.toolCalls[1]!.id);
});

test('malformed blocks stay text and never throw', () => {
  const bad = '<tool_call>\n{"name": "a", "arguments": {"x": }\n</tool_call>';
  assert.deepEqual(parseToolCalls(bad), { content: bad, toolCalls: [] });
  const noName = '<tool_call>{"arguments": {}}</tool_call>';
  assert.equal(parseToolCalls(noName).toolCalls.length, 0);
  const mixed = parseToolCalls('<tool_call>oops</tool_call><tool_call>{"name": "ok", "arguments": {}}</tool_call>');
  assert.equal(mixed.content, '<tool_call>oops</tool_call>');
  assert.deepEqual(mixed.toolCalls.map((c) => c.function.name), ['ok']);
  assert.deepEqual(parseToolCalls(''), { content: null, toolCalls: [] });
});

test('a truncated call: complete JSON without the closing tag parses, cut-off JSON stays text', () => {
  const complete = parseToolCalls('<tool_call>\n{"name": "a", "arguments": {}}\n');
  assert.deepEqual(complete.toolCalls.map((c) => c.function.name), ['a']);
  const cut = '<tool_call>\n{"name": "a", "argum';
  assert.deepEqual(parseToolCalls(cut), { content: cut, toolCalls: [] });
});

test('a bare JSON reply with name and arguments (or parameters) is a call; other JSON is text', () => {
  const r = parseToolCalls(' {"name": "lookup", "parameters": {"q": "x"}} ');
  assert.deepEqual(r.toolCalls.map((c) => [c.function.name, c.function.arguments]), [['lookup', '{"q":"x"}']]);
  assert.equal(parseToolCalls('{"answer": 42}').toolCalls.length, 0);
  assert.equal(parseToolCalls('{"answer": 42}').content, '{"answer": 42}');
});

test('streaming holdback releases text before a tool call and holds the call itself', () => {
  const h = new ToolCallHoldback();
  const pieces = ['Sure', ', one moment.', '\n<tool', '_call>\n{"name": "a", ', '"arguments": {}}\n</tool_call>'];
  const streamed = pieces.map((p) => h.push(p)).join('');
  assert.equal(streamed, 'Sure, one moment.\n');
  const { rest, parsed } = h.finish();
  assert.equal(rest, '');
  assert.equal(parsed.content, 'Sure, one moment.');
  assert.equal(parsed.toolCalls.length, 1);
});

test('streaming holdback gives back held text when no call parses', () => {
  const h = new ToolCallHoldback();
  const streamed = ['hi <tool', 'box> there'].map((p) => h.push(p)).join('');
  const { rest, parsed } = h.finish();
  assert.equal(streamed + rest, 'hi <toolbox> there');
  assert.equal(parsed.toolCalls.length, 0);
});
