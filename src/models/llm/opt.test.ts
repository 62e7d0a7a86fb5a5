// OPT decoder: positions come from the attention mask (cumsum·mask − 1, offset 2), so a left-padded row gives the
// same hidden states at its real tokens as the unpadded row; causality; config errors. BLIP-2 parity (OPT
// logits and loss against transformers) lives in mllm/blip2.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { concat, noGrad, randn, tensor, type Tensor } from '../../tensor/index.ts';
import { OptDecoder, optPositionIds, parseOptConfig } from './opt.ts';

const cfg = parseOptConfig({ vocab_size: 50, hidden_size: 16, ffn_dim: 32, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 20, pad_token_id: 1 });

function maxAbsDiff(a: Tensor, b: Tensor): number {
  const x = a.toFloat64(), y = b.toFloat64();
  return x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]!)), 0);
}

test('OPT position ids follow the mask', () => {
  assert.deepEqual(optPositionIds(tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])), [-1, -1, 0, 1, 2, 0, 1, 2, 3, 4]);
});

test('OPT: a left-padded row equals its unpadded run at real tokens; future tokens do not leak', () => {
  const dec = new OptDecoder(cfg).eval();
  noGrad(() => {
    const x = randn([1, 4, 16]);
    const plain = dec.forward(x, null);
    const padded = dec.forward(concat([randn([1, 2, 16]), x], 1), tensor([[0, 0, 1, 1, 1, 1]]));
    assert.ok(maxAbsDiff(padded.slice(1, 2, 6), plain) < 1e-5);
    const changedLast = dec.forward(concat([x.slice(1, 0, 3), randn([1, 1, 16])], 1), null);
    assert.ok(maxAbsDiff(changedLast.slice(1, 0, 3), plain.slice(1, 0, 3)) < 1e-6);
    assert.deepEqual(dec.logits(plain).shape, [1, 4, 50]);
  });
  assert.throws(() => dec.forward(randn([1, 21, 16])), /exceed max_position_embeddings 20/);
});

test('OPT config: post-LN variant drops the final norm; bad fields are named', () => {
  const post = parseOptConfig({ ...{ vocab_size: 50, hidden_size: 16, ffn_dim: 32, num_hidden_layers: 1, num_attention_heads: 4, max_position_embeddings: 8 }, do_layer_norm_before: false });
  assert.equal(new OptDecoder(post).finalLayerNorm, null);
  assert.throws(() => parseOptConfig({ hidden_size: 16 }, 'opt.json'), /opt.json: "vocab_size"/);
  assert.throws(() => parseOptConfig({ ...{ vocab_size: 5 }, activation_function: 'swish' }, 'opt.json'), /activation_function "swish"/);
});
