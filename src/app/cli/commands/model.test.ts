// The model subcommands end to end: `node bin/tessera.mjs forward|generate|tokenize|detokenize` on the HF
// fixtures, checked against transformers' logits, loss, gradients, greedy sequences and token ids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hfFixture, repoRoot } from '../../../util/paths.ts';
import { maxAbs, maxDiff, readMeta, readTensors } from '../../../io/hf/fixture.ts';

const cli = (...args: string[]): string => execFileSync(process.execPath, [join(repoRoot, 'bin/tessera.mjs'), ...args], { encoding: 'utf8' });
const dir = hfFixture('llava-siglip-qwen2');

test('tessera forward --grads writes logits, loss and every gradient under checkpoint keys', { skip: !dir }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tessera-forward-'));
  try {
    const out = join(tmp, 'out.safetensors');
    cli('forward', '--model', dir!, '--inputs', join(dir!, 'io.safetensors'), '--out', out, '--grads');
    const got = readTensors(out), io = readTensors(join(dir!, 'io.safetensors')), grads = readTensors(join(dir!, 'grads.safetensors'));
    const meta = readMeta(dir!) as { scalars: { loss: number } };
    const d = maxDiff(got.get('logits')!, io.get('logits')!, io.get('attention_mask')!);
    assert.ok(d < 1e-4, `logits maxdiff ${d}`);
    assert.ok(Math.abs(got.get('loss')!.item() - meta.scalars.loss) < 1e-5 * meta.scalars.loss);
    assert.deepEqual([...got.keys()].filter((k) => k !== 'logits' && k !== 'loss').sort(), [...grads.keys()].sort());
    for (const [k, ref] of grads) {
      if (maxAbs(ref) < 1e-6) continue; // analytically zero (k_proj bias): float noise on both sides
      assert.ok(maxDiff(got.get(k)!, ref) <= 1e-4 * maxAbs(ref), k);
    }
  } finally {
    rmSync(tmp, { recursive: true });
  }
});

test('tessera generate prints the greedy continuation of each row', { skip: !dir }, () => {
  const io = readTensors(join(dir!, 'io.safetensors'));
  const seq = io.get('gen_batch_sequences')!, T = io.get('input_ids')!.shape[1]!, W = seq.shape[1]!;
  const rows = JSON.parse(cli('generate', '--model', dir!, '--inputs', join(dir!, 'io.safetensors'), '--max-new-tokens', String(W - T))) as number[][];
  const v = seq.toList();
  assert.deepEqual(rows, [0, 1].map((b) => v.slice(b * W + T, b * W + W)));
});

const tokDir = hfFixture('tokenizers');
test('tessera tokenize / detokenize follow the tokenizer fixture', { skip: !tokDir }, () => {
  const expected = JSON.parse(readFileSync(join(tokDir!, 'expected.json'), 'utf8')) as {
    tokenizers: Record<string, { cases: { text: string; ids: number[]; ids_with_special_tokens: number[]; decoded: string }[] }>;
  };
  const tok = join(tokDir!, 'llama-bpe-legacy');
  const c = expected.tokenizers['llama-bpe-legacy']!.cases.find((x) => x.text === 'Hello world')!;
  assert.deepEqual(JSON.parse(cli('tokenize', '--model', tok, c.text)), c.ids_with_special_tokens);
  assert.deepEqual(JSON.parse(cli('tokenize', '--model', tok, '--no-special', c.text)), c.ids);
  assert.equal(JSON.parse(cli('detokenize', '--model', tok, JSON.stringify(c.ids))), c.decoded);
  const bad = spawnSync(process.execPath, [join(repoRoot, 'bin/tessera.mjs'), 'detokenize', '--model', tok, '[1, x]'], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /JSON array of integers/);
});
