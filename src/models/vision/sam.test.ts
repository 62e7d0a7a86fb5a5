// SAM ViT invariants that the fixture cannot isolate: a window layer only mixes tokens inside its window (the
// zero padding at the bottom/right included), a window as large as the grid is global attention, and the
// relative position tables must fit the attention side. Parity with transformers is in
// src/models/mllm/deepseek-vl-hybrid.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, noGrad, randn, slice, tensor, type Tensor } from '../../tensor/index.ts';
import { maxDiff } from '../../io/hf/fixture.ts';
import { parseSamVitConfig, SamVisionEncoder } from './sam.ts';

const base = {
  model_type: 'sam_vision_model', hidden_size: 8, num_attention_heads: 2, image_size: 24, patch_size: 4, num_hidden_layers: 1,
  mlp_dim: 16, output_channels: 4, window_size: 4, global_attn_indexes: [] as number[],
};

/** An encoder with every parameter (rel_pos tables and pos_embed included) random, so each term matters. */
function randomEncoder(json: Record<string, unknown>, seed = 7): SamVisionEncoder {
  manualSeed(seed);
  const enc = new SamVisionEncoder(parseSamVitConfig(json));
  const source = new Map<string, Tensor>();
  for (const [name, p] of enc.stateDict()) source.set(name, randn(p.shape).mul(0.3));
  enc.loadStateDict(source);
  return enc;
}

test('a window layer (6x6 grid, window 4, padded to 8x8) only mixes tokens within a window', () => {
  const enc = randomEncoder(base);
  manualSeed(1);
  const x = randn([1, 6, 6, 8]);
  const bumped = tensor(x.toList().map((v, i) => (i < 8 ? v + 1 : v)), { shape: x.shape }); // token (0, 0) only
  const y0 = noGrad(() => enc.layers[0]!.forward(x));
  const y1 = noGrad(() => enc.layers[0]!.forward(bumped));
  const cell = (t: Tensor, r0: number, r1: number, c0: number, c1: number): Tensor => slice(slice(t, 1, r0, r1), 2, c0, c1);
  assert.ok(maxDiff(cell(y0, 0, 4, 0, 4), cell(y1, 0, 4, 0, 4)) > 1e-3, 'its own window must change');
  assert.equal(maxDiff(cell(y0, 0, 6, 4, 6), cell(y1, 0, 6, 4, 6)), 0); // the windows to the right (padded)
  assert.equal(maxDiff(cell(y0, 4, 6, 0, 4), cell(y1, 4, 6, 0, 4)), 0); // the window below (padded)
});

test('a window as large as the grid equals global attention', () => {
  const windowed = randomEncoder({ ...base, window_size: 6 });
  const global = randomEncoder({ ...base, window_size: 6, global_attn_indexes: [0] }, 99);
  global.loadStateDict(windowed.stateDict());
  manualSeed(2);
  const px = randn([2, 3, 24, 24]);
  const a = noGrad(() => windowed.forward(px)), b = noGrad(() => global.forward(px));
  assert.ok(maxDiff(a.lastHiddenState, b.lastHiddenState) < 1e-6);
  assert.deepEqual(a.lastHiddenState.shape, [2, 4, 6, 6]);
  assert.deepEqual(a.hiddenStates.map((h) => h.shape), [[2, 6, 6, 8], [2, 6, 6, 8]]);
});

test('bad SAM configs and inputs are clear errors', () => {
  assert.throws(() => parseSamVitConfig({ ...base, global_attn_indexes: [3] }), /global_attn_indexes.*below 1/);
  assert.throws(() => parseSamVitConfig({ ...base, image_size: 25 }), /image_size 25 is not a multiple of patch_size 4/);
  assert.throws(() => parseSamVitConfig({ ...base, model_type: 'vit' }), /model_type "vit"/);
  const enc = randomEncoder(base);
  assert.throws(() => noGrad(() => enc.forward(randn([1, 3, 16, 16]))), /shape \[1, 3, 16, 16\], expected \[B, 3, 24, 24\]/);
  const global = randomEncoder({ ...base, global_attn_indexes: [0] });
  assert.throws(() => noGrad(() => global.layers[0]!.forward(randn([1, 5, 5, 8]))), /rel_pos_h has 11 rows, expected 9 for side 5/);
});
