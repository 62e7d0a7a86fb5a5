// Kosmos-2 parity with transformers on fixtures/hf/kosmos-2 (eager attention), stage by stage: vision hidden
// states, last_hidden_state, normalized features, latent-query image embeddings, position ids, the sinusoidal table,
// text hidden states and logits where attention_mask == 1 (1e-4·max(1, max|ref|)), then greedy generation of the
// unpadded row (ids exact, step logits within tolerance), and the HF position rule that makes a left-padded row drift.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { maxAbs, maxDiff, readMeta, readTensors } from '../../io/hf/fixture.ts';
import { noGrad, slice, stack, tensor, type Tensor } from '../../tensor/index.ts';
import { hfFixture } from '../../util/paths.ts';
import { kosmos2PositionIds, sinusoidalTable } from '../llm/kosmos2-text.ts';
import { loadModel } from '../registry.ts';
import type { Kosmos2 } from './kosmos2.ts';

const dir = hfFixture('kosmos-2');

function assertClose(name: string, got: Tensor, ref: Tensor, rowMask: Tensor | null = null): void {
  assert.deepEqual(got.shape, ref.shape, `${name} shape`);
  const d = maxDiff(got, ref, rowMask), bound = 1e-4 * Math.max(1, maxAbs(ref));
  console.log(`kosmos-2 ${name}: maxdiff ${d.toExponential(2)} (bound ${bound.toExponential(2)})`);
  assert.ok(d <= bound, `${name}: maxdiff ${d} > ${bound}`);
}

test('Kosmos-2 matches transformers stage by stage', { skip: dir === null }, async () => {
  const io = readTensors(join(dir!, 'io.safetensors'));
  const m = await loadModel(dir!);
  assert.equal(m.modelType, 'kosmos-2');
  const inputs = new Map(['pixel_values', 'input_ids', 'attention_mask', 'image_embeds_position_mask'].map((k) => [k, io.get(k)!] as const));
  const out = noGrad(() => m.forward(inputs));
  const mask = io.get('attention_mask')!;
  for (const name of ['vision_hidden_states', 'vision_last_hidden_state', 'image_features_normalized', 'image_embeds']) {
    assertClose(name, out.get(name)!, io.get(name)!);
  }
  assert.deepEqual(out.get('text_position_ids')!.toList(), io.get('text_position_ids')!.toList(), 'text_position_ids');
  assertClose('text_hidden_states', out.get('text_hidden_states')!, io.get('text_hidden_states')!, mask);
  assertClose('logits', out.get('logits')!, io.get('logits')!, mask);
  const ref = io.get('embed_positions_table')!, [rows, C] = ref.shape as [number, number];
  const pad = (readMeta(dir!).config_summary as { pad_token_id: number }).pad_token_id;
  assertClose('embed_positions_table', tensor(sinusoidalTable(rows, C, pad), { shape: [rows, C] }), ref);
});

test('Kosmos-2 greedy generation of the unpadded row matches transformers', { skip: dir === null }, async () => {
  const io = readTensors(join(dir!, 'io.safetensors'));
  const row = (readMeta(dir!).scalars as { gen_row: number }).gen_row;
  const m = await loadModel(dir!);
  const model = m.module as Kosmos2;
  const pick = (k: string): Tensor => slice(io.get(k)!, 0, row, row + 1);
  const seq = io.get('gen_sequences')!, L = pick('input_ids').shape[1]!, steps = seq.shape[1]! - L;
  const r = model.generate(pick('pixel_values'), pick('input_ids'), pick('attention_mask'), pick('image_embeds_position_mask'), steps);
  assert.deepEqual(r.tokens[0], seq.toList().slice(L), 'gen_sequences new tokens');
  assertClose('gen_step_logits', stack(r.stepLogits, 1), io.get('gen_step_logits')!);
});

test('Kosmos-2 position ids follow HF: pads get pad_token_id, cached tokens pad + 1 + past length', () => {
  assert.deepEqual(kosmos2PositionIds([1, 1, 5, 6, 7, 8], 2, 3, 1, 0), [[1, 1, 2], [2, 3, 4]]);
  // A cached step counts the left pads in the past length (HF's drift for left-padded rows).
  assert.deepEqual(kosmos2PositionIds([9], 1, 1, 1, 4), [[6]]);
  const t = sinusoidalTable(3, 6, 1);
  assert.deepEqual([...t.subarray(6, 12)], [0, 0, 0, 0, 0, 0], 'pad row is zero');
  assert.equal(t[2 * 6 + 3], Math.fround(Math.cos(2)), 'row 2, first cos column');
});

test('Kosmos-2 rejects a position mask that does not match the image rows', { skip: dir === null }, async () => {
  const io = readTensors(join(dir!, 'io.safetensors'));
  const m = await loadModel(dir!);
  const bad = io.get('image_embeds_position_mask')!.toList();
  bad[0] = 1;
  const inputs = new Map(['pixel_values', 'input_ids', 'attention_mask'].map((k) => [k, io.get(k)!] as const));
  inputs.set('image_embeds_position_mask', tensor(bad, { shape: io.get('input_ids')!.shape, dtype: 'int64' }));
  assert.throws(() => noGrad(() => m.forward(inputs)), /marks 17 positions but image_embeds has 16 rows/);
  assert.throws(() => m.forward(new Map([['input_ids', io.get('input_ids')!]])), /missing input "pixel_values"/);
});
