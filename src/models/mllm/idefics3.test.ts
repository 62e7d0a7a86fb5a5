// Idefics3 parity with transformers on fixtures/hf/idefics3: the pixel-shuffle connector output (= the returned
// image_hidden_states) and the logits where attention_mask == 1, each within 1e-4·max(1, max|ref|); plus the
// pixel-shuffle channel order, the position bucketing, and clear errors for mismatched image tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maxAbs, maxDiff, readTensors } from '../../io/hf/fixture.ts';
import { arange, noGrad, tensor, type Tensor } from '../../tensor/index.ts';
import { hfFixture } from '../../util/paths.ts';
import { loadModel } from '../registry.ts';
import { pixelShuffle } from '../projector/pixel-shuffle.ts';
import { idefics3PositionIds } from './idefics3.ts';

const dir = hfFixture('idefics3');

function check(name: string, got: Tensor, ref: Tensor, mask: Tensor | null = null): void {
  const d = maxDiff(got, ref, mask), bound = 1e-4 * Math.max(1, maxAbs(ref));
  console.log(`idefics3 ${name}: maxdiff ${d.toExponential(2)} (bound ${bound.toExponential(2)})`);
  assert.ok(d <= bound, `${name}: maxdiff ${d} > ${bound}`);
}

test('pixelShuffle: cell (i, j) = cat of its 2×2 block in row-major order', () => {
  // A 4×4 grid of 1-channel tokens holding their own index.
  const x = arange(16, undefined, 1, 'float32').reshape([1, 16, 1]);
  const y = pixelShuffle(x, 2);
  assert.deepEqual(y.shape, [1, 4, 4]);
  assert.deepEqual(y.toList(), [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]);
  assert.throws(() => pixelShuffle(arange(12, undefined, 1, 'float32').reshape([1, 12, 1]), 2), /square grid/);
  assert.throws(() => pixelShuffle(arange(9, undefined, 1, 'float32').reshape([1, 9, 1]), 2), /multiple of scale_factor/);
});

test('idefics3PositionIds: a full grid is arange; a half grid spreads over the table', () => {
  assert.deepEqual([...idefics3PositionIds(4, 4, 4)], Array.from({ length: 16 }, (_, i) => i));
  assert.deepEqual([...idefics3PositionIds(2, 2, 4)], [0, 2, 8, 10]);
});

test('Idefics3 matches transformers: connector output, image_hidden_states, logits', { skip: dir === null }, async () => {
  const io = readTensors(`${dir!}/io.safetensors`);
  const m = await loadModel(dir!);
  assert.equal(m.modelType, 'idefics3');
  const inputs = new Map(['input_ids', 'attention_mask', 'pixel_values'].map((k) => [k, io.get(k)!] as const));
  const out = noGrad(() => m.forward(inputs));
  check('connector_output', out.get('image_hidden_states')!, io.get('connector_output')!);
  check('image_hidden_states', out.get('image_hidden_states')!, io.get('image_hidden_states')!);
  check('logits', out.get('logits')!, io.get('logits')!, io.get('attention_mask')!);

  // One image token too few: the splice names both counts.
  const tok = m.config.image_token_id as number, ids = io.get('input_ids')!, list = ids.toList(), first = list.indexOf(tok);
  list[first] = 5;
  const fewer = new Map(inputs).set('input_ids', tensor(list, { shape: ids.shape, dtype: 'int32' }));
  assert.throws(() => noGrad(() => m.forward(fewer)), /image tokens do not match/);
  assert.throws(() => m.forward(new Map([['input_ids', ids]])), /no pixel_values/);
});
