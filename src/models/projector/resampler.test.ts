// Perceiver resampler: output shapes for any patch count, the 2D sin-cos table, gradients reaching the queries and
// the features, and order: permuting patches together with their positions leaves the output unchanged, while
// permuting the patches alone changes it (position enters only through the embedding).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { indexSelect, manualSeed, noGrad, randn, tensor, type Tensor } from '../../tensor/index.ts';
import { gridPositions, PerceiverResampler, sinCos2d } from './resampler.ts';

const cfg = { numQueries: 5, width: 16, numHeads: 4, inFeatures: 12, outFeatures: 24 } as const;

function maxAbsDiff(a: Tensor, b: Tensor): number {
  const x = a.toFloat64(), y = b.toFloat64();
  return x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]!)), 0);
}

test('PerceiverResampler: Q outputs of the LLM width for any number of patches', () => {
  manualSeed(1);
  const r = new PerceiverResampler(cfg);
  assert.deepEqual(noGrad(() => r.forward(randn([2, 9, 12]))).shape, [2, 5, 24]);
  assert.deepEqual(noGrad(() => r.forward(randn([1, 6, 12]), gridPositions(2, 3))).shape, [1, 5, 24]);
  assert.throws(() => r.forward(randn([1, 6, 12])), /not a square grid/);
  assert.throws(() => r.forward(randn([1, 4, 11])), /features must be \[B, N, 12\]/);
  assert.throws(() => new PerceiverResampler({ ...cfg, numHeads: 3 }), /not divisible by 3 heads/);
  assert.ok(r.namedParameters().next().value![0] === 'query');
});

test('sinCos2d: row channels then column channels, sin then cos', () => {
  const e = sinCos2d(8, [[0, 0], [1, 2]]).toList();
  assert.deepEqual(e.slice(0, 8), [0, 0, 1, 1, 0, 0, 1, 1]);
  const close = (a: number, b: number): boolean => Math.abs(a - b) < 1e-6;
  assert.ok(close(e[8]!, Math.sin(1)) && close(e[9]!, Math.sin(0.01)) && close(e[10]!, Math.cos(1)));
  assert.ok(close(e[12]!, Math.sin(2)) && close(e[14]!, Math.cos(2)));
});

test('PerceiverResampler: gradients reach the queries, every layer and the features', () => {
  manualSeed(2);
  const r = new PerceiverResampler(cfg);
  const feats = randn([2, 4, 12]).requireGrad();
  r.forward(feats).square().sum().backward();
  for (const [name, p] of r.namedParameters()) assert.ok(p.grad && p.grad.abs().sum().item() > 0, `${name} got no gradient`);
  assert.ok(feats.grad && feats.grad.abs().sum().item() > 0);
});

test('PerceiverResampler: patch order matters only through the position embedding', () => {
  manualSeed(3);
  const r = new PerceiverResampler(cfg);
  const feats = randn([2, 9, 12]), pos = gridPositions(3, 3);
  const perm = [4, 0, 8, 2, 7, 1, 6, 3, 5];
  const shuffled = indexSelect(feats, 1, tensor(perm, { shape: [9], dtype: 'int32' }));
  const base = noGrad(() => r.forward(feats, pos));
  const together = noGrad(() => r.forward(shuffled, perm.map((i) => pos[i]!)));
  const alone = noGrad(() => r.forward(shuffled, pos));
  const same = maxAbsDiff(base, together), moved = maxAbsDiff(base, alone);
  console.log(`resampler permutation: features+positions ${same.toExponential(2)}, features alone ${moved.toExponential(2)}`);
  assert.ok(same < 1e-5, `permuting features and positions together changed the output by ${same}`);
  assert.ok(moved > 1e-5, `permuting features alone should change the output (diff ${moved})`);
});
