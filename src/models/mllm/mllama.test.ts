// Mllama parity with transformers on fixtures/hf/mllama, stage by stage: the tiled vision encoder output (interleaved
// intermediate channels, empty image slots included), the projected cross-attention states, text hidden states and
// logits where attention_mask == 1, the text-only path (cross-attention layers skipped), greedy generation of row 0
// (ids exact, step logits within 1e-4·max(1, max|ref|)), and the processor's cross-attention token mask.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { maxAbs, maxDiff, readTensors } from '../../io/hf/fixture.ts';
import { noGrad, slice, stack, type Tensor } from '../../tensor/index.ts';
import { hfFixture } from '../../util/paths.ts';
import { loadModel } from '../registry.ts';
import { crossAttentionMaskFromIds, type Mllama } from './mllama.ts';

const dir = hfFixture('mllama');

function assertClose(name: string, got: Tensor, ref: Tensor, rowMask: Tensor | null = null): void {
  assert.deepEqual(got.shape, ref.shape, `${name} shape`);
  const d = maxDiff(got, ref, rowMask), bound = 1e-4 * Math.max(1, maxAbs(ref));
  console.log(`mllama ${name}: maxdiff ${d.toExponential(2)} (bound ${bound.toExponential(2)})`);
  assert.ok(d <= bound, `${name}: maxdiff ${d} > ${bound}`);
}

const imageInputs = ['pixel_values', 'aspect_ratio_ids', 'aspect_ratio_mask', 'cross_attention_mask'];

test('Mllama matches transformers: vision, cross-attention states, hidden states, logits, text-only logits', { skip: dir === null }, async () => {
  const io = readTensors(join(dir!, 'io.safetensors'));
  const m = await loadModel(dir!);
  assert.equal(m.modelType, 'mllama');
  const mask = io.get('attention_mask')!;
  const out = noGrad(() => m.forward(new Map(['input_ids', 'attention_mask', ...imageInputs].map((k) => [k, io.get(k)!] as const))));
  assertClose('vision_last_hidden_state', out.get('vision_last_hidden_state')!, io.get('vision_last_hidden_state')!);
  assertClose('cross_attention_states', out.get('cross_attention_states')!, io.get('cross_attention_states')!);
  assertClose('text_hidden_states', out.get('text_hidden_states')!, io.get('text_hidden_states')!, mask);
  assertClose('logits', out.get('logits')!, io.get('logits')!, mask);
  const textOnly = noGrad(() => m.forward(new Map(['input_ids', 'attention_mask'].map((k) => [k, io.get(k)!] as const))));
  assertClose('logits_text_only', textOnly.get('logits')!, io.get('logits_text_only')!, mask);
});

test('Mllama greedy generation of row 0 matches transformers', { skip: dir === null }, async () => {
  const io = readTensors(join(dir!, 'io.safetensors'));
  const model = (await loadModel(dir!)).module as Mllama;
  const row = (k: string): Tensor => slice(io.get(k)!, 0, 0, 1);
  const seq = io.get('gen_sequences')!, L = io.get('input_ids')!.shape[1]!, steps = seq.shape[1]! - L;
  const r = model.generate(row('input_ids'), row('attention_mask'), {
    pixelValues: row('pixel_values'), aspectRatioIds: row('aspect_ratio_ids'),
    aspectRatioMask: row('aspect_ratio_mask'), crossAttentionMask: row('cross_attention_mask'),
  }, steps);
  assert.deepEqual(r.tokens[0], seq.toList().slice(L), 'gen_sequences new tokens');
  assertClose('gen_step_logits', stack(r.stepLogits, 1), io.get('gen_step_logits')!);
});

test('Mllama cross-attention token mask follows get_cross_attention_token_mask', { skip: dir === null }, () => {
  const io = readTensors(join(dir!, 'io.safetensors'));
  const ids = io.get('input_ids')!, [B, L] = ids.shape as [number, number];
  const [, , I, T] = io.get('cross_attention_mask')!.shape as [number, number, number, number];
  const flat = ids.toList(), arMask = io.get('aspect_ratio_mask')!.toList();
  const rows = Array.from({ length: B }, (_, b) => flat.slice(b * L, b * L + L));
  const tiles = Array.from({ length: B }, (_, b) => Array.from({ length: I }, (_, i) => arMask.slice((b * I + i) * T, (b * I + i) * T + T).filter((x) => x).length));
  const got = crossAttentionMaskFromIds(rows, 300, tiles, I, T);
  assert.deepEqual(got.data, io.get('cross_attention_mask')!.toList());
  // Consecutive image tokens attend together to the text after the run.
  const run = crossAttentionMaskFromIds([[5, 9, 9, 6, 7]], 9, [[1, 1]], 2, 1);
  assert.deepEqual(run.data, [0, 0, 1, 0, 1, 1, 1, 1, 1, 1]);
});
