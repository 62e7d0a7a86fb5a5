// Qwen2-VL parity with transformers on fixtures/hf/qwen2-vl: get_rope_index's M-RoPE ids and deltas (exact) and the
// logits where attention_mask == 1 (1e-4·max(1, max|ref|)); mm_token_type_ids is required with image_grid_thw;
// M-RoPE with equal rows is plain RoPE; left padding keeps a row's ids and logits unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maxAbs, maxDiff, readTensors } from '../../io/hf/fixture.ts';
import { concat, noGrad, ones, tensor, zeros, type Tensor } from '../../tensor/index.ts';
import { hfFixture } from '../../util/paths.ts';
import { loadModel } from '../registry.ts';
import { ropeTables } from '../llm/rope.ts';
import { parseLlmConfig } from '../llm/config.ts';
import { mropeIndex, mropeTables } from '../llm/mrope.ts';
import { visionPatchPositions } from '../vision/qwen2-vl.ts';

const dir = hfFixture('qwen2-vl');

function check(name: string, got: Tensor, ref: Tensor, mask: Tensor | null = null): void {
  const d = maxDiff(got, ref, mask), bound = 1e-4 * Math.max(1, maxAbs(ref));
  console.log(`qwen2-vl ${name}: maxdiff ${d.toExponential(2)} (bound ${bound.toExponential(2)})`);
  assert.ok(d <= bound, `${name}: maxdiff ${d} > ${bound}`);
}

test('M-RoPE with identical t/h/w rows equals plain RoPE', () => {
  const rope = parseLlmConfig({ hidden_size: 32, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 2, vocab_size: 4, rope_theta: 1e6 }).rope;
  const pos = [[0, 3, 7, 20]];
  const m = mropeTables(1e6, 16, [4, 2, 2], [pos, pos, pos]), r = ropeTables(rope, 16, pos);
  assert.ok(maxDiff(m.cos, r.cos) === 0 && maxDiff(m.sin, r.sin) === 0);
  assert.throws(() => mropeTables(1e6, 16, [4, 2, 1], [pos, pos, pos]), /must sum to head_dim\/2 = 8/);
});

test('mropeIndex: an image grid, text after it, padding, and count errors', () => {
  // Row 0: 2 text, a 1×4×6 grid merged by 2 (6 tokens), 1 text. Row 1: the same, left padded by 2.
  const types = tensor([0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, /**/ 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0], { shape: [2, 11], dtype: 'int32' });
  const mask = tensor([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, /**/ 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1], { shape: [2, 11], dtype: 'int32' });
  const grid = [1, 4, 6];
  const r = mropeIndex(types.slice(0, 0, 1).slice(1, 0, 9), { image: [grid], video: [] }, 2);
  assert.deepEqual(r.positions[0][0], [0, 1, 2, 2, 2, 2, 2, 2, 5]);
  assert.deepEqual(r.positions[1][0], [0, 1, 2, 2, 2, 3, 3, 3, 5]);
  assert.deepEqual(r.positions[2][0], [0, 1, 2, 3, 4, 2, 3, 4, 5]);
  assert.deepEqual(r.deltas, [6 - 9]);
  const padded = mropeIndex(types.slice(0, 1, 2), { image: [grid], video: [] }, 2, mask.slice(0, 1, 2));
  assert.deepEqual(padded.positions[2][0], [0, 0, 0, 1, 2, 3, 4, 2, 3, 4, 5]);
  assert.deepEqual(padded.deltas, [-3]);
  assert.throws(() => mropeIndex(types.slice(0, 0, 1).slice(1, 0, 9), { image: [[1, 4, 4]], video: [] }, 2), /6 image tokens does not match image_grid_thw \[1, 4, 4\]/);
  assert.throws(() => mropeIndex(types.slice(0, 0, 1).slice(1, 0, 9), { image: [], video: [] }, 2), /more image runs/);
});

test('vision patch order is window by window', () => {
  const { rows, cols } = visionPatchPositions([[1, 2, 4]], 2);
  assert.deepEqual(rows, [0, 0, 1, 1, 0, 0, 1, 1]);
  assert.deepEqual(cols, [0, 1, 0, 1, 2, 3, 2, 3]);
});

test('Qwen2-VL matches transformers: M-RoPE ids and deltas, logits', { skip: dir === null }, async () => {
  const io = readTensors(`${dir!}/io.safetensors`);
  const m = await loadModel(dir!);
  assert.equal(m.modelType, 'qwen2_vl');
  const names = ['input_ids', 'attention_mask', 'pixel_values', 'image_grid_thw', 'mm_token_type_ids'];
  const inputs = new Map(names.map((k) => [k, io.get(k)!] as const));
  const out = noGrad(() => m.forward(inputs));
  assert.deepEqual(out.get('mrope_position_ids')!.toList(), io.get('mrope_position_ids')!.toList());
  assert.deepEqual(out.get('mrope_position_deltas')!.toList(), io.get('mrope_position_deltas')!.toList());
  console.log(`qwen2-vl mrope_position_ids, mrope_position_deltas: equal (deltas ${out.get('mrope_position_deltas')!.toList()})`);
  check('logits', out.get('logits')!, io.get('logits')!, io.get('attention_mask')!);

  const noTypes = new Map(inputs);
  noTypes.delete('mm_token_type_ids');
  assert.throws(() => m.forward(noTypes), /mm_token_type_ids is missing/);

  // Left padding by two: the real positions keep their ids and logits (transformers' get_rope_index skips pads).
  const pad = (t: Tensor, v: number): Tensor => concat([v ? ones([1, 2], 'int32') : zeros([1, 2], 'int32'), t.to('int32')], 1);
  const padded = new Map(inputs).set('input_ids', pad(io.get('input_ids')!, 0)).set('attention_mask', pad(io.get('attention_mask')!, 0))
    .set('mm_token_type_ids', pad(io.get('mm_token_type_ids')!, 0));
  const p = noGrad(() => m.forward(padded));
  const T = io.get('input_ids')!.shape[1]!;
  assert.deepEqual(p.get('mrope_position_ids')!.slice(2, 2, T + 2).toList(), io.get('mrope_position_ids')!.toList());
  check('logits (left padded)', p.get('logits')!.slice(1, 2, T + 2), io.get('logits')!, io.get('attention_mask')!);
});
