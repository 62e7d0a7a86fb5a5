import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '../data/tokenizer/tokenizer.ts';
import { CausalLM } from '../models/llm/decoder.ts';
import { parseLlmConfig } from '../models/llm/config.ts';
import { openCheckpoint } from '../io/checkpoint.ts';
import { readConfig } from '../models/registry.ts';
import { argmax, noGrad, tensor } from '../tensor/index.ts';
import { generateText, generateTokens, IncrementalDecoder, StopStringFilter } from './generate.ts';
import { Sampler } from './sampler.ts';
import { fixtureTokenizerDir, writeTinyCheckpoint } from './tiny-checkpoint.ts';

function loadTiny(dir: string): CausalLM {
  const model = new CausalLM(parseLlmConfig(readConfig(dir)));
  const ckpt = openCheckpoint(dir);
  model.loadStateDict(new Map(ckpt.keys().map((k) => [k, ckpt.read(k)])));
  ckpt.close();
  return model;
}

const collect = async <T, R>(g: AsyncGenerator<T, R>): Promise<{ items: T[]; result: R }> => {
  const items: T[] = [];
  for (;;) {
    const r = await g.next();
    if (r.done) return { items, result: r.value };
    items.push(r.value);
  }
};

test('incremental detokenisation never emits broken UTF-8 and adds up to the full decode', () => {
  const tok = Tokenizer.fromFile(fixtureTokenizerDir);
  const text = 'héllo 😀 wörld, naïve café 中文';
  const ids = tok.encode(text, { addSpecialTokens: false }).ids;
  const d = new IncrementalDecoder(tok);
  const deltas = ids.map((id) => d.push(id));
  deltas.push(d.flush());
  assert.ok(deltas.every((s) => !s.includes('\uFFFD')), JSON.stringify(deltas));
  assert.equal(deltas.join(''), text);
});

test('stop strings: cut before the stop, hold back a partial match, release a false alarm', () => {
  const f = new StopStringFilter(['</end>']);
  assert.equal(f.push('abc</'), 'abc');
  assert.equal(f.push('en'), '');
  assert.equal(f.push('d>tail'), '');
  assert.equal(f.stopped, true);
  const g = new StopStringFilter(['</end>', 'STOP']);
  assert.equal(g.push('x</e'), 'x');
  assert.equal(g.push('nx ST'), '</enx ');
  assert.equal(g.flush(), 'ST');
  assert.throws(() => new StopStringFilter(['']), /must not be empty/);
});

test('cached decoding picks the same tokens as a full recompute each step', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-gen-'));
  try {
    const tok = writeTinyCheckpoint(dir, { seed: 3 });
    const model = loadTiny(dir);
    const prompt = tok.encode('<|im_start|>user\nhello there<|im_end|>\n<|im_start|>assistant\n').ids;
    const { items, result } = await collect(generateTokens(model, { prompt, sampler: new Sampler({ temperature: 0 }), maxTokens: 8, eosIds: [] }));
    assert.equal(result, 'length');
    assert.equal(items.length, 8);
    const ids = [...prompt];
    for (const want of items) {
      const logits = noGrad(() => model.forward({ inputIds: tensor(Int32Array.from(ids), { shape: [1, ids.length], dtype: 'int32' }), lastOnly: true }).logits);
      assert.equal(argmax(logits.reshape([-1]), -1).item(), want);
      ids.push(want);
    }
    // the same seed reproduces a sampled continuation
    const sample = async (seed: number): Promise<number[]> =>
      (await collect(generateTokens(model, { prompt, sampler: new Sampler({ temperature: 1, seed }), maxTokens: 6, eosIds: [] }))).items;
    assert.deepEqual(await sample(11), await sample(11));
    // abort stops between tokens
    const ac = new AbortController();
    const gen = generateTokens(model, { prompt, sampler: new Sampler({ temperature: 0 }), maxTokens: 50, eosIds: [], signal: ac.signal });
    await gen.next();
    ac.abort();
    assert.deepEqual(await gen.next(), { done: true, value: 'abort' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a scripted model stops on eos; stop strings cut the text', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-gen-'));
  try {
    const tok = writeTinyCheckpoint(dir, { seed: 1, script: ['Hello', ' world', '!'] });
    const model = loadTiny(dir);
    const prompt = tok.encode('<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n').ids;
    const base = { prompt, sampler: new Sampler({ temperature: 0 }), maxTokens: 20, eosIds: [tok.specialIds.eos!] };
    const all = await collect(generateText(model, tok, base));
    assert.deepEqual(all.result, { text: 'Hello world!', finishReason: 'stop', completionTokens: 3 });
    const cut = await collect(generateText(model, tok, { ...base, stopStrings: [' wor'] }));
    assert.equal(cut.items.join(''), 'Hello');
    assert.equal(cut.result.finishReason, 'stop');
    const short = await collect(generateText(model, tok, { ...base, maxTokens: 2 }));
    assert.deepEqual([short.result.text, short.result.finishReason], ['Hello world', 'length']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
