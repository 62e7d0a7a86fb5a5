// Q-Former as a general projector: output shapes, cross-attention only on layers i % frequency == 0, gradients
// reaching queries and encoder features, invariance to the order of the encoder tokens (cross-attention has no
// positions), and masked-out feature tokens having no effect. BLIP-2 parity lives in mllm/blip2.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { concat, noGrad, randn, tensor, type Tensor } from '../../tensor/index.ts';
import { parseQFormerConfig, qformerKey, QFormerProjector } from './qformer.ts';

const qformer = parseQFormerConfig({
  hidden_size: 16, num_hidden_layers: 3, num_attention_heads: 4, intermediate_size: 32, encoder_hidden_size: 12, cross_attention_frequency: 2,
});

function maxAbsDiff(a: Tensor, b: Tensor): number {
  const x = a.toFloat64(), y = b.toFloat64();
  return x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]!)), 0);
}

test('QFormerProjector: shapes, cross-attention layout and checkpoint names', () => {
  const p = new QFormerProjector({ qformer, numQueries: 5, outDim: 24 });
  assert.deepEqual(p.qformer.encoder.layer.map((l) => l.crossattention !== null), [true, false, true]);
  assert.deepEqual(noGrad(() => p.forward(randn([2, 7, 12]))).shape, [2, 5, 24]);
  assert.equal(qformerKey('encoder.layer.0.crossattention.output.layerNorm.weight'), 'encoder.layer.0.crossattention.output.LayerNorm.weight');
  assert.equal(qformerKey('encoder.layer.1.intermediateQuery.dense.bias'), 'encoder.layer.1.intermediate_query.dense.bias');
  assert.throws(() => p.forward(randn([2, 7, 11])), /features must be \[2, tokens, 12\]/);
  assert.throws(() => parseQFormerConfig({ ...{ hidden_size: 16 } }, 'q.json'), /q.json: "num_hidden_layers"/);
});

test('QFormerProjector: gradients reach the queries and the features', () => {
  const p = new QFormerProjector({ qformer, numQueries: 3, outDim: 8 });
  const feats = randn([2, 6, 12]).requireGrad();
  p.forward(feats).square().sum().backward();
  assert.ok(p.queryTokens.grad && p.queryTokens.grad.abs().sum().item() > 0);
  assert.ok(feats.grad && feats.grad.abs().sum().item() > 0);
  assert.ok(p.qformer.encoder.layer[0]!.crossattention!.attention.key.weight.grad !== null);
});

test('QFormerProjector: permuting encoder tokens changes nothing; masked tokens are ignored', () => {
  const p = new QFormerProjector({ qformer, numQueries: 4, outDim: 8 });
  const feats = randn([1, 5, 12]);
  const perm = concat([4, 2, 0, 3, 1].map((i) => feats.slice(1, i, i + 1)), 1);
  noGrad(() => {
    const a = p.forward(feats), b = p.forward(perm);
    assert.ok(maxAbsDiff(a, b) < 1e-5, 'order of features');
    const padded = concat([feats, randn([1, 3, 12])], 1);
    const mask = tensor([[1, 1, 1, 1, 1, 0, 0, 0]], { dtype: 'bool' });
    assert.ok(maxAbsDiff(p.forward(padded, mask), a) < 1e-5, 'masked padding');
    assert.ok(maxAbsDiff(p.forward(padded), a) > 1e-4, 'unmasked padding does change the output');
  });
});
