// Renders the ChatML template with @huggingface/jinja and checks exact strings, plus parity with the
// Qwen2.5-style template and apply_chat_template renders in the shared HF fixture.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { chatmlTemplate, defaultSystemPrompt } from './chatml.ts';
import { hfFixture } from '../../util/paths.ts';

const template = new Template(chatmlTemplate);
const render = (context: Record<string, unknown>): string => template.render(context);

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Get the weather.',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

test('plain multi-turn with a system prompt and a generation prompt', () => {
  const out = render({
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi!' },
      { role: 'assistant', content: 'Hello.' },
      { role: 'user', content: 'How are you?' },
    ],
    add_generation_prompt: true,
  });
  assert.equal(out,
    '<|im_start|>system\nBe brief.<|im_end|>\n' +
    '<|im_start|>user\nHi!<|im_end|>\n' +
    '<|im_start|>assistant\nHello.<|im_end|>\n' +
    '<|im_start|>user\nHow are you?<|im_end|>\n' +
    '<|im_start|>assistant\n');
});

test('no system message: the default system prompt, and no generation prompt unless asked', () => {
  const out = render({ messages: [{ role: 'user', content: 'Hi' }] });
  assert.equal(out, `<|im_start|>system\n${defaultSystemPrompt}<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n`);
});

test('image and text parts render the <image> marker in place', () => {
  const out = render({
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Compare ' }, { type: 'image' }, { type: 'text', text: ' and ' }, { type: 'image_url', image_url: { url: 'x' } }] }],
    add_generation_prompt: true,
  });
  assert.equal(out,
    `<|im_start|>system\n${defaultSystemPrompt}<|im_end|>\n` +
    '<|im_start|>user\nCompare <image> and <image><|im_end|>\n<|im_start|>assistant\n');
});

test('an audio part renders the <audio> marker', () => {
  const out = render({
    messages: [
      { role: 'system', content: 'Transcribe.' },
      { role: 'user', content: [{ type: 'audio' }, { type: 'text', text: 'What was said?' }] },
    ],
    add_generation_prompt: true,
  });
  assert.equal(out,
    '<|im_start|>system\nTranscribe.<|im_end|>\n<|im_start|>user\n<audio>What was said?<|im_end|>\n<|im_start|>assistant\n');
});

test('tools, a tool call, two tool results and the final answer', () => {
  const out = render({
    messages: [
      { role: 'system', content: 'You help.' },
      { role: 'user', content: 'Weather in Paris and Oslo?' },
      {
        role: 'assistant',
        content: '',
        tool_calls: [
          { type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } },
          { type: 'function', function: { name: 'get_weather', arguments: '{"city": "Oslo"}' } },
        ],
      },
      { role: 'tool', content: '{"temp": 21}' },
      { role: 'tool', content: '{"temp": 3}' },
      { role: 'assistant', content: 'Paris 21°C, Oslo 3°C.' },
    ],
    tools: [weatherTool],
  });
  assert.equal(out,
    '<|im_start|>system\nYou help.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' +
    'You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n' +
    '{"type": "function", "function": {"name": "get_weather", "description": "Get the weather.", "parameters": ' +
    '{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}\n</tools>\n\n' +
    'For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n' +
    '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n' +
    '<|im_start|>user\nWeather in Paris and Oslo?<|im_end|>\n' +
    '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>' +
    '\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call><|im_end|>\n' +
    '<|im_start|>user\n<tool_response>\n{"temp": 21}\n</tool_response>\n<tool_response>\n{"temp": 3}\n</tool_response><|im_end|>\n' +
    '<|im_start|>assistant\nParis 21°C, Oslo 3°C.<|im_end|>\n');
});

test('an unknown role is an error naming the role', () => {
  assert.throws(() => render({ messages: [{ role: 'narrator', content: 'x' }] }), /unknown role narrator/);
});

interface FixtureRender {
  name: string;
  kwargs: Record<string, unknown>;
  messages: { role: string; content: unknown }[];
  rendered: string;
}

test('matches the HF fixture template and its apply_chat_template renders', (t) => {
  const dir = hfFixture('tokenizers');
  if (!dir) { t.skip('shared HF fixtures absent'); return; }
  const chat = JSON.parse(readFileSync(join(dir, 'chat.json'), 'utf8')) as { template: string; tools: unknown[]; renders: FixtureRender[] };
  const theirs = new Template(chat.template);
  assert.ok(chat.renders.length > 0);
  for (const r of chat.renders) {
    const { continue_final_message: continueFinal, ...kwargs } = r.kwargs;
    if (kwargs['tools'] === '<chat.tools>') kwargs['tools'] = chat.tools;
    const context = { messages: r.messages, ...kwargs };
    let ours = render(context);
    assert.equal(ours, theirs.render(context), `${r.name}: differs from the fixture template`);
    if (continueFinal === true) {
      // transformers, not the template, cuts the render after the final message's content.
      const last = r.messages[r.messages.length - 1]!.content;
      assert.equal(typeof last, 'string');
      ours = ours.slice(0, ours.lastIndexOf(last as string) + (last as string).length);
    }
    assert.equal(ours, r.rendered, `${r.name}: differs from apply_chat_template`);
  }
});
