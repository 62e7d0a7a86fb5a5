// Tokenizer parity with Hugging Face `tokenizers` on fixtures/hf/tokenizers/expected.json:
// every test string through all three tokenizers, every field exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { hfFixture } from '../../util/paths.ts';
import { Tokenizer } from './tokenizer.ts';

interface Case {
  text: string;
  ids: number[];
  tokens: string[];
  offsets: Array<[number, number]>;
  ids_with_special_tokens: number[];
  decoded: string;
  decoded_skip_special: string;
}
interface Expected {
  tokenizers: Record<string, { vocab_size_with_added: number; special_token_ids: Record<string, number>; cases: Case[] }>;
}

const dir = hfFixture('tokenizers');
const expected = dir === null ? null : (JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected);

for (const name of ['bytelevel-bpe', 'llama-bpe-legacy', 'llama-bpe-metaspace']) {
  test(`${name}: ids, tokens, offsets and decoding match tokenizers 0.23 on every test string`, { skip: dir === null }, () => {
    const exp = expected!.tokenizers[name]!;
    const tok = Tokenizer.fromFile(join(dir!, name));
    assert.equal(tok.vocabSize, exp.vocab_size_with_added);
    for (const [token, id] of Object.entries(exp.special_token_ids)) assert.equal(tok.tokenToId(token), id, token);
    let offsetCases = 0;
    for (const c of exp.cases) {
      const label = `${name} ${JSON.stringify(c.text)}`;
      const enc = tok.encode(c.text, { addSpecialTokens: false });
      assert.deepEqual(enc.ids, c.ids, `${label} ids`);
      assert.deepEqual(enc.tokens, c.tokens, `${label} tokens`);
      assert.ok(enc.offsets !== undefined, `${label}: offsets missing`);
      assert.deepEqual(enc.offsets, c.offsets, `${label} offsets`);
      offsetCases++;
      const withSpecials = tok.encode(c.text, { addSpecialTokens: true });
      assert.deepEqual(withSpecials.ids, c.ids_with_special_tokens, `${label} ids_with_special_tokens`);
      assert.equal(withSpecials.offsets?.length, withSpecials.ids.length);
      assert.deepEqual(tok.encodeIds(c.text, { addSpecialTokens: false }), c.ids, `${label} encodeIds`);
      assert.deepEqual(tok.encodeIds(c.text), c.ids_with_special_tokens, `${label} encodeIds with special tokens`);
      assert.equal(tok.decode(c.ids), c.decoded, `${label} decoded`);
      assert.equal(tok.decode(c.ids, { skipSpecialTokens: true }), c.decoded_skip_special, `${label} decoded_skip_special`);
    }
    assert.equal(offsetCases, exp.cases.length);
  });
}

test('special token ids come from tokenizer_config.json and the vocabulary', { skip: dir === null }, () => {
  const legacy = Tokenizer.fromFile(join(dir!, 'llama-bpe-legacy', 'tokenizer.json'));
  assert.deepEqual({ ...legacy.specialIds }, { bos: 1, eos: 2, unk: 0, image: 600, audio: 601 });
  assert.equal(legacy.idToToken(600), '<image>');
  assert.ok(legacy.isSpecial(600));
  assert.ok(!legacy.isSpecial(300));
  const bytelevel = Tokenizer.fromFile(join(dir!, 'bytelevel-bpe'));
  assert.equal(bytelevel.specialIds.eos, 603);
  assert.equal(bytelevel.specialIds.pad, 604);
  assert.equal(bytelevel.specialIds.bos, undefined);
});

test('bad input gives a clear error', { skip: dir === null }, () => {
  const tok = Tokenizer.fromFile(join(dir!, 'bytelevel-bpe'));
  assert.throws(() => tok.decode([tok.vocabSize]), /cannot decode id 605/);
  assert.throws(() => tok.decode([1.5]), /cannot decode id 1.5/);
  assert.equal(tok.decode([]), '');
  assert.throws(() => Tokenizer.fromFile('/nonexistent/tok'), /does not exist/);
  const tmp = mkdtempSync(join(tmpdir(), 'tok-'));
  writeFileSync(join(tmp, 'tokenizer.json'), '{not json');
  assert.throws(() => Tokenizer.fromFile(tmp), /not valid JSON/);
  writeFileSync(join(tmp, 'tokenizer.json'), '{"version": "1.0"}');
  assert.throws(() => Tokenizer.fromFile(tmp), /no "model" section/);
});
