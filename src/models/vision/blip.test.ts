// BLIP-2 vision tower: token count (CLS + patches), hidden-state count, post_layernorm only on last_hidden_state,
// clear errors for wrong pixel shapes and configs. Parity with transformers lives in mllm/blip2.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layerNorm, noGrad, randn } from '../../tensor/index.ts';
import { BlipVisionModel, parseBlipVisionConfig } from './blip.ts';

const raw = { hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 4, image_size: 16, patch_size: 4 };

test('BLIP vision: shapes, hidden states and post_layernorm', () => {
  const m = new BlipVisionModel(parseBlipVisionConfig(raw)).eval();
  const out = noGrad(() => m.forward(randn([2, 3, 16, 16])));
  assert.deepEqual(out.lastHiddenState.shape, [2, 17, 16]);
  assert.equal(out.hiddenStates.length, 3);
  const normed = noGrad(() => layerNorm(out.hiddenStates[2]!, m.postLayernorm.weight, m.postLayernorm.bias, 1e-6)).toFloat64();
  assert.deepEqual(Array.from(out.lastHiddenState.toFloat64()), Array.from(normed));
  assert.throws(() => m.forward(randn([1, 3, 8, 8])), /pixel_values must be \[batch, 3, 16, 16\]/);
  assert.throws(() => parseBlipVisionConfig({ ...raw, patch_size: 5 }, 'v.json'), /v.json: image_size 16 is not a multiple of patch_size 5/);
});
