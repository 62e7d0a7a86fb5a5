// Tests for the byte-level BPE trainer: the output loads in @huggingface/tokenizers and round-trips, the vocabulary
// and merges are well formed, training is deterministic, a plain O(n·merges) trainer agrees with the incremental one,
// and ids match Python's `tokenizers`/transformers on test/fixtures/bpe (made by scripts/bpe_crosscheck.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import {
  buildTokenizerConfig, byteChars, countWords, defaultPlainAddedTokens, defaultSpecialTokens, learnMerges,
  trainByteLevelBpe, writeTokenizerJson,
} from './bpe-train.ts';
import type { TokenizerJson } from './bpe-train.ts';
import { chatmlTemplate } from './chatml.ts';
import { corpusLines, fixtureDir, fixtureSettings } from '../../../scripts/make-bpe-fixture.ts';

/** The part of tokenizers.js used here; its own types degrade under nodenext resolution. */
interface JsTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[]; tokens: string[] };
  decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
  token_to_id(token: string): number | undefined;
  get_vocab(withAddedTokens?: boolean): Map<string, number>;
}
const JsTokenizerCtor = Tokenizer as unknown as new (tokenizer: object, config: object) => JsTokenizer;

interface PythonCase { text: string; ids: number[]; decoded: string; decoded_skip_special: string; transformers_ids_equal: boolean }
interface PythonChat { messages: unknown[]; kwargs: Record<string, unknown>; rendered: string; ids: number[] }
interface PythonFixture {
  auto_tokenizer: { vocab_size_with_added: number; eos_token_id: number; pad_token_id: number; bos_token: string | null };
  cases: PythonCase[];
  chats: PythonChat[];
  hf_bpe_trainer: { identical: boolean; same_leading_merges: number };
}

const corpus = corpusLines(readFileSync(join(fixtureDir, 'corpus.txt'), 'utf8'));
const trained = trainByteLevelBpe({ texts: corpus, ...fixtureSettings });
// The config matters: it turns off clean_up_tokenization_spaces, which would turn " ??" into "??".
const tokenizer = new JsTokenizerCtor(trained, buildTokenizerConfig(trained));
// tokenizers.js throws on an empty id list (Python returns ''), so the empty case is answered here.
const decode = (ids: number[], skipSpecialTokens = false): string =>
  ids.length === 0 ? '' : tokenizer.decode(ids, { skip_special_tokens: skipSpecialTokens });
const python = JSON.parse(readFileSync(join(fixtureDir, 'python.json'), 'utf8')) as PythonFixture;

const roundTripStrings = [
  ...(JSON.parse(readFileSync(join(fixtureDir, 'strings.json'), 'utf8')) as string[]),
  'Never seen before: \u{1F9A9}\u{1FAE0} ꙮ ⸻ 𓀀 \u{10FFFD}',
  'Mixed 中文English123和😀emoji',
  'tab\tnewline\ncarriage\rreturn',
  'a' + '😀'.repeat(20),
];

test('decode(encode(s)) === s for NFC strings, including characters never seen in training', () => {
  for (const s of roundTripStrings) {
    const ids = tokenizer.encode(s, { add_special_tokens: false }).ids;
    assert.equal(decode(ids), s, `round trip of ${JSON.stringify(s)}`);
  }
});

test('unseen characters fall back to single byte tokens', () => {
  // U+10FFFD is F4 8F BF BD in UTF-8; no byte pair of it occurs in the corpus.
  const { ids } = tokenizer.encode('\u{10FFFD}', { add_special_tokens: false });
  assert.equal(ids.length, 4);
  for (const id of ids) assert.ok(id < 256, `id ${id} is a byte token`);
});

test('NFC is applied: a decomposed é encodes like the composed one', () => {
  const composed = tokenizer.encode('caf\u00e9', { add_special_tokens: false }).ids;
  assert.deepEqual(tokenizer.encode('cafe\u0301', { add_special_tokens: false }).ids, composed);
});

test('specials and tool-call markers are single ids after the learned vocabulary', () => {
  const learned = Object.keys(trained.model.vocab).length;
  [...defaultSpecialTokens, ...defaultPlainAddedTokens].forEach((t, i) => {
    assert.equal(tokenizer.token_to_id(t), learned + i, t);
    assert.deepEqual(tokenizer.encode(`x${t}y`, { add_special_tokens: false }).ids.filter((id) => id >= learned), [learned + i]);
  });
  const ids = tokenizer.encode('<|im_start|>a<tool_call>b</tool_call><|im_end|>', { add_special_tokens: false }).ids;
  // Specials are dropped by skip_special_tokens; the tool-call markers are non-special and stay.
  assert.equal(tokenizer.decode(ids, { skip_special_tokens: true }), 'a<tool_call>b</tool_call>');
  assert.equal(tokenizer.decode(ids, { skip_special_tokens: false }), '<|im_start|>a<tool_call>b</tool_call><|im_end|>');
});

test('vocabulary size is exact and every merge is built from earlier tokens', () => {
  assert.equal(tokenizer.get_vocab(true).size, fixtureSettings.vocabSize);
  const vocab = trained.model.vocab;
  assert.equal(Object.keys(vocab).length + trained.added_tokens.length, fixtureSettings.vocabSize);
  const byteIds = Object.values(vocab).filter((id) => id < 256);
  assert.equal(new Set(byteIds).size, 256);
  for (const c of byteChars) assert.ok(vocab[c]! < 256, `byte char ${c} is one of the first 256 ids`);
  for (const [left, right] of trained.model.merges) {
    const merged = vocab[left + right];
    assert.ok(merged !== undefined, `merge result ${left + right} is in the vocab`);
    assert.ok(vocab[left]! < merged && vocab[right]! < merged, `parts of ${left + right} come before it`);
  }
});

test('training is deterministic and reproduces the committed fixture', async () => {
  const again = trainByteLevelBpe({ texts: corpus, ...fixtureSettings });
  assert.equal(JSON.stringify(again), JSON.stringify(trained));
  const committed = JSON.parse(await readFile(join(fixtureDir, 'ours/tokenizer.json'), 'utf8')) as TokenizerJson;
  assert.deepEqual(committed, trained);
});

/** Plain reference: recount every pair from scratch before each merge. */
function referenceMerges(words: Map<string, number>, count: number): [string, string][] {
  const tokens = [...byteChars].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  const id = new Map(tokens.map((t, i) => [t, i] as const));
  let state = [...words].map(([w, f]) => ({ symbols: Array.from(w), f }));
  const merges: [string, string][] = [];
  while (merges.length < count) {
    const counts = new Map<string, { l: string; r: string; n: number }>();
    for (const { symbols, f } of state) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const k = symbols[i]! + '\u0000' + symbols[i + 1]!;
        const e = counts.get(k) ?? { l: symbols[i]!, r: symbols[i + 1]!, n: 0 };
        e.n += f;
        counts.set(k, e);
      }
    }
    const best = [...counts.values()].sort((a, b) => b.n - a.n || id.get(a.l)! - id.get(b.l)! || id.get(a.r)! - id.get(b.r)!)[0];
    if (!best || best.n < 2) break;
    merges.push([best.l, best.r]);
    if (!id.has(best.l + best.r)) { id.set(best.l + best.r, tokens.length); tokens.push(best.l + best.r); }
    state = state.map(({ symbols, f }) => {
      const out: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (symbols[i] === best.l && symbols[i + 1] === best.r) { out.push(best.l + best.r); i++; } else out.push(symbols[i]!);
      }
      return { symbols: out, f };
    });
  }
  return merges;
}

test('the incremental merge loop equals a recount-everything reference', () => {
  const words = countWords(corpus, [...defaultSpecialTokens, ...defaultPlainAddedTokens]);
  const fast = learnMerges(words, 256 + 150, 2);
  assert.deepEqual(fast.merges.map(([l, r]) => [fast.tokens[l], fast.tokens[r]]), referenceMerges(words, 150));
});

test('ids match Python tokenizers and transformers on the same tokenizer.json', () => {
  assert.ok(python.cases.length > 0);
  for (const c of python.cases) {
    assert.ok(c.transformers_ids_equal, `transformers agrees with tokenizers on ${JSON.stringify(c.text)}`);
    assert.deepEqual(tokenizer.encode(c.text, { add_special_tokens: false }).ids, c.ids, `ids of ${JSON.stringify(c.text)}`);
    assert.equal(decode(c.ids), c.decoded);
    assert.equal(decode(c.ids, true), c.decoded_skip_special);
  }
  assert.equal(python.auto_tokenizer.vocab_size_with_added, fixtureSettings.vocabSize);
  assert.equal(python.auto_tokenizer.eos_token_id, tokenizer.token_to_id('<|im_end|>'));
  assert.equal(python.auto_tokenizer.pad_token_id, tokenizer.token_to_id('<|endoftext|>'));
  assert.equal(python.auto_tokenizer.bos_token, null);
  // Recorded by the cross-check: HF BpeTrainer learned the very same merges on this corpus.
  assert.ok(python.hf_bpe_trainer.identical);
});

test('the chat template renders and tokenizes as transformers apply_chat_template does', () => {
  const template = new Template(chatmlTemplate);
  for (const chat of python.chats) {
    const rendered = template.render({ messages: chat.messages, ...chat.kwargs });
    assert.equal(rendered, chat.rendered);
    assert.deepEqual(tokenizer.encode(rendered, { add_special_tokens: false }).ids, chat.ids);
  }
});

test('writeTokenizerJson writes a folder that reloads with the same ids', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bpe-'));
  try {
    await writeTokenizerJson(dir, trained, { chatTemplate: chatmlTemplate, modelMaxLength: 4096 });
    const config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(config['eos_token'], '<|im_end|>');
    assert.equal(config['pad_token'], '<|endoftext|>');
    assert.equal(config['bos_token'], null);
    assert.equal(config['chat_template'], chatmlTemplate);
    assert.equal(config['model_max_length'], 4096);
    const reloaded = new JsTokenizerCtor(JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')) as object, config);
    const s = roundTripStrings[10]!;
    assert.deepEqual(reloaded.encode(s).ids, tokenizer.encode(s).ids);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('added tokens in training text are cut out, never merged into', () => {
  const json = trainByteLevelBpe({ texts: Array(50).fill('<image><image>hi'), vocabSize: 300 });
  for (const [l, r] of json.model.merges) assert.ok(!(l + r).includes('<'), `merge ${l}+${r}`);
});

test('spellCapitals: runs of capitals stay one letter a token; other merges are still learnt', () => {
  const texts = Array(40).fill('What does the text say? RAIN LIGHT 7088 Rain');
  const tokenize = (json: TokenizerJson, s: string) => new JsTokenizerCtor(json, buildTokenizerConfig(json)).encode(s, { add_special_tokens: false }).tokens;
  const plain = trainByteLevelBpe({ texts, vocabSize: 400 }), spelt = trainByteLevelBpe({ texts, vocabSize: 400, spellCapitals: true });
  assert.ok(tokenize(plain, 'RAIN').length < 4); // BpeTrainer merges the word it saw 40 times
  assert.deepEqual(tokenize(spelt, 'RAIN'), ['R', 'A', 'I', 'N']);
  const light = tokenize(spelt, ' LIGHT'); // the space may join the first letter, no two letters join
  assert.equal(light.join(''), 'ĠLIGHT');
  assert.ok(light.length >= 5 && light.every((t) => !/[A-Z]{2}/.test(t)), light.join('|'));
  for (const [l, r] of spelt.model.merges) assert.ok(!(/[A-Z]$/.test(l) && /^[A-Z]/.test(r)), `merge ${l}+${r}`);
  assert.deepEqual(tokenize(spelt, ' Rain'), ['ĠRain']); // a capital before small letters still merges
  assert.deepEqual(tokenize(spelt, 'What'), ['What']);
});

test('minFrequency stops training early; extra specials are appended as special', () => {
  const json = trainByteLevelBpe({ texts: ['ab ab ab'], vocabSize: 1000, minFrequency: 4, specialTokens: ['<video>'] });
  assert.equal(json.model.merges.length, 0);
  const video = json.added_tokens.find((t) => t.content === '<video>');
  assert.ok(video?.special);
  assert.equal(video.id, 256 + defaultSpecialTokens.length);
});

test('bad options are clear errors', () => {
  assert.throws(() => trainByteLevelBpe({ texts: ['x'], vocabSize: 100 }), /vocabSize must be an integer >= 263/);
  assert.throws(() => trainByteLevelBpe({ texts: ['x'], vocabSize: 300, minFrequency: 0 }), /minFrequency/);
  assert.throws(() => trainByteLevelBpe({ texts: ['x'], vocabSize: 300, specialTokens: ['<image>'] }), /"<image>" is listed twice/);
  assert.throws(() => trainByteLevelBpe({ texts: ['x', 3 as unknown as string], vocabSize: 300 }), /texts\[1\] is number/);
});
