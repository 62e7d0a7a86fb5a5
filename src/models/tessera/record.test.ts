// renderSegments cuts a conversation by its shape's skeleton (contents as placeholders), checked by one rendering:
// it must give exactly the segments of rendering every prefix of the real conversation, also where the skeleton
// cannot be trusted (a template that trims or tests contents, contents holding the placeholder character).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { ChatMessage } from '../../infer/chat-template.ts';
import { exactSegments, renderSegments } from './record.ts';

const chatml = readFileSync(new URL('../../../models/tessera-demo/chat_template.jinja', import.meta.url), 'utf8');

const u = (content: string): ChatMessage => ({ role: 'user', content });
const a = (content: string): ChatMessage => ({ role: 'assistant', content });

const conversations: ChatMessage[][] = [
  [u('<image>\nWhat color is the circle?'), a('red')],
  [u('<image>\nWhat color is the circle?'), a('red'), u('How many squares are there?'), a('2'), u('Describe the image.'), a('a red circle and a blue square')],
  [{ role: 'system', content: 'Answer briefly.' }, u('<audio>\nTranscribe the audio.'), a('three five')],
  [u('What is the sum? Use the calculator.'), { role: 'assistant', content: '', tool_calls: [{ name: 'calculator', arguments: { expression: '3+7+2' } }] },
    { role: 'tool', content: '12' }, a('12')],
  [u('an empty answer'), a(''), u('and $1 $& \\1 in it'), a('$&$1')],
  [u('a placeholder \uE0000\uE001 in the text'), a('x')],
];

test('the skeleton cut equals the cut of every prefix, for answers and prompts', () => {
  for (const messages of conversations) {
    assert.deepEqual(renderSegments(chatml, messages, 't'), exactSegments(chatml, messages, 't'));
    // twice: the second comes from the cached skeleton
    assert.deepEqual(renderSegments(chatml, messages, 't'), exactSegments(chatml, messages, 't'));
    assert.deepEqual(renderSegments(chatml, messages.slice(0, 1), 't', true), exactSegments(chatml, messages.slice(0, 1), 't', true));
  }
  const labelled = renderSegments(chatml, conversations[1]!, 't').filter((s) => s.labelled).map((s) => s.text);
  assert.deepEqual(labelled, ['red<|im_end|>', '2<|im_end|>', 'a red circle and a blue square<|im_end|>']);
});

test('a template that trims or tests the contents falls back to cutting the real conversation', () => {
  const trimming = chatml.replaceAll('render_content(message.content)', 'render_content(message.content) | trim');
  const testing = chatml.replace("{{- '<|im_start|>' + message.role + '\\n' + render_content(message.content) + '<|im_end|>\\n' -}}",
    "{{- '<|im_start|>' + message.role + '\\n' + (('NO' if message.content == 'no' else render_content(message.content))) + '<|im_end|>\\n' -}}");
  assert.notEqual(testing, chatml);
  const messages = [u('  What color is the circle?  '), a(' red '), u('Is there a square?'), a('no')];
  for (const template of [trimming, testing]) {
    const exact = exactSegments(template, messages, 't');
    assert.deepEqual(renderSegments(template, messages, 't'), exact);
  }
  assert.ok(exactSegments(testing, messages, 't').some((s) => s.labelled && s.text === 'NO<|im_end|>'));
  assert.ok(exactSegments(trimming, messages, 't').some((s) => s.labelled && s.text === 'red<|im_end|>'));
});

test('a template that does not render prefixes as prefixes is still an error naming the record', () => {
  const reversed = '{%- for m in messages | reverse -%}{{- "<|im_start|>" + m.role + "\\n" + m.content + "<|im_end|>\\n" -}}{%- endfor -%}'
    + '{%- if add_generation_prompt -%}{{- "<|im_start|>assistant\\n" -}}{%- endif -%}';
  assert.throws(() => renderSegments(reversed, [u('q'), a('r')], 'record r1'), /record r1: the chat template does not render conversation prefixes as prefixes/);
});
