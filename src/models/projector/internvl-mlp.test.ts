// InternVL pixel shuffle channel order (README item 14: cell (i, j) = cat(x[2i,2j], x[2i,2j+1], x[2i+1,2j],
// x[2i+1,2j+1]), row-major cells) and the projector's LayerNorm eps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arange, tensor } from '../../tensor/index.ts';
import { InternVlProjector, pixelShuffle, shuffleFactor } from './internvl-mlp.ts';

test('pixel shuffle by 0.5 puts the 2x2 block in the order (0,0) (0,1) (1,0) (1,1)', () => {
  const g = 4, C = 2;
  // x[r, c, ch] = 100·r + 10·c + ch, so every value names its source cell.
  const vals = Array.from({ length: g * g * C }, (_, i) => 100 * Math.floor(i / (g * C)) + 10 * (Math.floor(i / C) % g) + (i % C));
  const y = pixelShuffle(tensor(vals, { shape: [1, g * g, C] }), 0.5);
  assert.deepEqual(y.shape, [1, 4, 4 * C]);
  const cell = (i: number, j: number): number[] => y.toList().slice((i * 2 + j) * 4 * C, (i * 2 + j + 1) * 4 * C);
  assert.deepEqual(cell(0, 0), [0, 1, 10, 11, 100, 101, 110, 111]);
  assert.deepEqual(cell(1, 0), [200, 201, 210, 211, 300, 301, 310, 311]);
  assert.deepEqual(cell(0, 1), [20, 21, 30, 31, 120, 121, 130, 131]);
});

test('pixel shuffle rejects grids and ratios that do not divide', () => {
  assert.throws(() => pixelShuffle(arange(9 * 2).reshape([1, 9, 2]), 0.5), /grid side 3 is not divisible by 2/);
  assert.throws(() => pixelShuffle(arange(8 * 2).reshape([1, 8, 2]), 0.5), /not \[B, g·g, C\] for a square grid/);
  assert.throws(() => shuffleFactor(0.4), /downsample_ratio 0.4 is not 1\/n/);
  assert.equal(shuffleFactor(0.25), 4);
});

test('the projector LayerNorm uses eps 1e-5 whatever the vision eps', () => {
  const p = new InternVlProjector({ inFeatures: 8, outFeatures: 4, act: 'gelu' });
  assert.equal(p.layer_norm.eps, 1e-5);
  assert.deepEqual(p.forward(arange(16).reshape([1, 2, 8])).shape, [1, 2, 4]);
});
