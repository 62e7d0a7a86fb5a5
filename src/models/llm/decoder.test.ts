// The Llama/Qwen2 decoder on its own: fed the fixture's inputs_embeds (as Qwen2-Audio or LLaVA would) it
// reproduces transformers' text hidden states and logits; cached decoding equals a full forward; padded masks follow
// transformers' eager semantics (finite finfo.min, so a fully masked query attends uniformly to every key).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { hfFixture } from '../../util/paths.ts';
import { readConfig } from '../registry.ts';
import { maxDiff, readTensors } from '../../io/hf/fixture.ts';
import { openCheckpoint } from '../../io/checkpoint.ts';
import type { TensorData } from '../../io/safetensors.ts';
import { concat, full, noGrad, ones, randn, scaledDotProductAttention, slice, stack, tensor } from '../../tensor/index.ts';
import { parseLlmConfig } from './config.ts';
import { CausalLM, FLOAT32_MIN } from './decoder.ts';

/** The text half of a LLaVA fixture as a stand-alone CausalLM (keys `language_model.{model,lm_head}.*`). */
function textModel(dir: string): CausalLM {
  const cfg = readConfig(dir);
  const lm = new CausalLM(parseLlmConfig(cfg.text_config as Record<string, unknown>, 'config.json:text_config'));
  const r = openCheckpoint(dir);
  const source = new Map<string, TensorData>();
  for (const k of r.keys()) if (k.startsWith('language_model.')) source.set(k.slice('language_model.'.length), r.read(k));
  r.close();
  lm.loadStateDict(source, { source: dir });
  return lm;
}

for (const name of ['llava-clip-llama', 'llava-siglip-qwen2']) {
  const dir = hfFixture(name);
  test(`${name}: decoder on inputs_embeds matches transformers`, { skip: !dir }, () => {
    const lm = textModel(dir!);
    assert.equal(lm.lm_head === null, name.includes('qwen2')); // Qwen2 fixture is tied
    const io = readTensors(join(dir!, 'io.safetensors'));
    const mask = io.get('attention_mask')!;
    const out = noGrad(() => lm.forward({ inputsEmbeds: io.get('inputs_embeds')!, attentionMask: mask, outputHiddenStates: true }));
    const dh = maxDiff(stack(out.hiddenStates!), io.get('text_hidden_states')!, mask);
    const dl = maxDiff(out.logits, io.get('logits')!, mask);
    console.log(`${name}: text_hidden_states ${dh.toExponential(2)}, logits ${dl.toExponential(2)}`);
    assert.ok(dh < 1e-4 && dl < 1e-4);
  });
}

test('prefill + one cached step equals one full forward (GQA, Qwen2 biases, ids input)', () => {
  const cfg = parseLlmConfig({ model_type: 'qwen2', vocab_size: 50, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, rope_parameters: { rope_type: 'default', rope_theta: 1e6 } });
  const lm = new CausalLM(cfg);
  const ids = tensor([[3, 7, 9, 11, 4], [5, 6, 1, 2, 8]], { dtype: 'int32' });
  noGrad(() => {
    const full = lm.forward({ inputIds: ids });
    const pre = lm.forward({ inputIds: slice(ids, 1, 0, 4) });
    const mask = concat([ones([2, 4], 'int32'), ones([2, 1], 'int32')], 1);
    const next = lm.forward({ inputIds: slice(ids, 1, 4, 5), cache: pre.cache, attentionMask: mask });
    assert.equal(next.cache.length, 5);
    const d = maxDiff(next.logits, slice(full.logits, 1, 4, 5));
    assert.ok(d < 1e-5, `cached vs full: ${d}`);
  });
  assert.throws(() => lm.forward({ inputIds: ids, attentionMask: ones([2, 3]) }), /attention_mask \[2, 3\] should be \[2, 5\]/);
});

test('a query whose keys are all finfo.min attends uniformly (forward and backward), as torch eager', () => {
  const q = randn([1, 1, 2, 4]).requireGrad(), k = randn([1, 1, 3, 4]).requireGrad(), v = randn([1, 1, 3, 4]).requireGrad();
  // Row 0 masked everywhere (a left pad), row 1 sees keys 0 and 1.
  const mask = tensor([FLOAT32_MIN, FLOAT32_MIN, FLOAT32_MIN, 0, 0, FLOAT32_MIN], { shape: [1, 1, 2, 3] });
  const y = scaledDotProductAttention(q, k, v, { mask });
  const mean = v.detach().mean(2, true); // [1, 1, 1, 4]
  assert.ok(maxDiff(slice(y, 2, 0, 1), mean) < 1e-6, 'uniform row');
  slice(y, 2, 0, 1).sum().backward();
  assert.ok(maxDiff(v.grad!, full([1, 1, 3, 4], 1 / 3)) < 1e-6, 'd out / d v = 1/Tk for the uniform row');
  // torch's softmax backward still runs from p = 1/Tk: ds_j = p·(g·v_j − Σ p·g·v), dk_j = ds_j·scale·q.
  const gv = v.detach().sum(3).toList(), meanGv = gv.reduce((a, b) => a + b, 0) / 3, q0 = slice(q.detach(), 2, 0, 1).toList();
  const dk = gv.flatMap((g) => q0.map((x) => ((g - meanGv) / 3) * 0.5 * x));
  assert.ok(maxDiff(k.grad!, tensor(dk, { shape: [1, 1, 3, 4] })) < 1e-6, 'score gradient of the uniform row');
});

test('left padding: pad queries get HF garbage (not zeros), real positions equal the unpadded forward', () => {
  const cfg = parseLlmConfig({ model_type: 'llama', vocab_size: 40, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2,
    num_attention_heads: 2, rope_parameters: { rope_type: 'default', rope_theta: 1e4 } });
  const lm = new CausalLM(cfg);
  noGrad(() => {
    const padded = lm.forward({ inputIds: tensor([[0, 0, 5, 6, 7]], { dtype: 'int32' }), attentionMask: tensor([[0, 0, 1, 1, 1]], { dtype: 'int32' }),
      positionIds: tensor([[0, 0, 0, 1, 2]], { dtype: 'int32' }) });
    const plain = lm.forward({ inputIds: tensor([[5, 6, 7]], { dtype: 'int32' }) });
    assert.ok(maxDiff(slice(padded.logits, 1, 2, 5), plain.logits) < 1e-5);
    assert.ok(slice(padded.lastHiddenState, 1, 0, 1).abs().sum().item() > 0);
  });
});
