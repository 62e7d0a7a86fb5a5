// Chat template parity with transformers' apply_chat_template (fixtures/hf/tokenizers/chat.json):
// five renderings (tools, no tools, generation prompt, continue_final_message) exact, and their ids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hfFixture } from '../util/paths.ts';
import { Tokenizer } from '../data/tokenizer/tokenizer.ts';
import { renderChat, type ChatMessage } from './chat-template.ts';

interface Render {
  name: string;
  kwargs: { tools?: string; add_generation_prompt?: boolean; continue_final_message?: boolean };
  messages: ChatMessage[];
  rendered: string;
  input_ids: number[];
}
interface Chat {
  template: string;
  tools: unknown[];
  renders: Render[];
}

const dir = hfFixture('tokenizers');

test('the five chat.json variants render and tokenize exactly as transformers', { skip: dir === null }, () => {
  const chat = JSON.parse(readFileSync(join(dir!, 'chat.json'), 'utf8')) as Chat;
  assert.equal(readFileSync(join(dir!, 'chat_template.jinja'), 'utf8'), chat.template);
  const tok = Tokenizer.fromFile(join(dir!, 'bytelevel-bpe'));
  assert.equal(chat.renders.length, 5);
  for (const r of chat.renders) {
    const out = renderChat(chat.template, r.messages, {
      ...(r.kwargs.tools !== undefined ? { tools: chat.tools } : {}),
      ...(r.kwargs.add_generation_prompt !== undefined ? { addGenerationPrompt: r.kwargs.add_generation_prompt } : {}),
      ...(r.kwargs.continue_final_message !== undefined ? { continueFinalMessage: r.kwargs.continue_final_message } : {}),
      ...(tok.eosToken !== undefined ? { eosToken: tok.eosToken } : {}),
    });
    assert.equal(out, r.rendered, r.name);
    assert.deepEqual(tok.encode(out, { addSpecialTokens: false }).ids, r.input_ids, `${r.name} ids`);
  }
});

test('tojson prints Python json.dumps separators and keeps non-ASCII', () => {
  const out = renderChat('{{ x | tojson }}', [], { extra: { x: { a: [1, 'é\n"'], b: null, c: 2.5 } } });
  assert.equal(out, '{"a": [1, "é\\n\\""], "b": null, "c": 2.5}');
});

test('trim_blocks and lstrip_blocks are on', () => {
  const t = '{% for m in messages %}\n  {% if m.role %}[{{ m.content }}]{% endif %}\n{% endfor %}';
  assert.equal(renderChat(t, [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }]), '[a][b]');
});

test('continueFinalMessage cuts after the final content; misuse is an error', () => {
  const t = "{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}";
  const msgs: ChatMessage[] = [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'The answer is ' }];
  assert.equal(renderChat(t, msgs, { continueFinalMessage: true }), '<user>hi</user><assistant>The answer is ');
  assert.throws(() => renderChat(t, msgs, { continueFinalMessage: true, addGenerationPrompt: true }), /cannot both be set/);
  assert.throws(() => renderChat('{{ raise_exception("no system role") }}', []), /no system role/);
  assert.throws(() => renderChat('{% if %}', []), /cannot parse/);
});
