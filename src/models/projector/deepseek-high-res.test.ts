// The bilinear resize against values printed by torch F.interpolate(mode="bilinear", align_corners=False)
// (up- and downsampling), its gradient, and the high-res projection's output shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arange, randn, tensor } from '../../tensor/index.ts';
import { maxDiff } from '../../io/hf/fixture.ts';
import { bilinearResize, HighResProjection, linearInterpolationMatrix } from './deepseek-high-res.ts';

test('bilinear resize matches torch (upsampling 2x3 → 3x5, downsampling 1x7 → 1x3)', () => {
  const x = arange(6).square().reshape([1, 1, 2, 3]);
  const up = bilinearResize(x, 3, 5);
  const upRef = [0, 0.4, 1, 2.8, 4, 4.5, 6.1, 8.5, 12.1, 14.5, 9, 11.8, 16, 21.4, 25];
  assert.ok(maxDiff(up, tensor(upRef, { shape: [1, 1, 3, 5] })) < 1e-5);
  const down = bilinearResize(arange(7).square().reshape([1, 1, 1, 7]), 1, 3);
  assert.ok(maxDiff(down, tensor([0.6666667, 9, 28.666664], { shape: [1, 1, 1, 3] })) < 1e-5);
  // 1-D [0, 1] → 4 samples: source positions −0.25 (clamped), 0.25, 0.75, 1.25 (edge repeats).
  assert.deepEqual(linearInterpolationMatrix(2, 4).toList(), [1, 0, 0.75, 0.25, 0.25, 0.75, 0, 1]);
  assert.equal(maxDiff(bilinearResize(x, 2, 3), x), 0);
  assert.throws(() => linearInterpolationMatrix(0, 3), /sizes must be positive integers/);
});

test('bilinear resize passes gradients: the total gradient is the number of output pixels', () => {
  const x = randn([1, 2, 3, 3]).requireGrad();
  bilinearResize(x, 8, 8).sum().backward();
  // Every row of the interpolation matrices sums to 1, so the total gradient is the number of output pixels.
  const total = x.grad!.toList().reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(total - 2 * 64) < 1e-3, `total gradient ${total}`);
});

test('high-res projection: [B, O, g, g] → [B, 4·O, o, o]', () => {
  const proj = new HighResProjection(3, 4);
  assert.deepEqual(proj.forward(randn([2, 3, 6, 6])).shape, [2, 12, 4, 4]);
  assert.deepEqual(proj.conv1.weight.shape, [6, 3, 3, 3]);
  assert.equal(proj.conv1.bias, null);
});
