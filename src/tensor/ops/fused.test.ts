// The fused ops equal their primitive compositions, forward and backward, and pass gradcheck in float64.

import { test } from 'node:test';
import * as T from '../index.ts';
import { assertClose, gradcheck, randomTensor } from '../testing.ts';

test('swiglu equals silu(a)·b and gradchecks', () => {
  const a = randomTensor([3, 5, 7], { seed: 1, layout: 'transposed' }).requireGrad();
  const b = randomTensor([3, 5, 7], { seed: 2 }).requireGrad();
  assertClose(T.swiglu(a, b), T.mul(T.silu(a), b), { atol: 1e-12 }, 'forward');
  gradcheck((x, y) => T.swiglu(x, y), [a, b]);
});

for (const [name, tableShape] of [['shared tables [T, R]', 'shared'], ['per-sequence tables [B, T, 1, R]', 'batch']] as const) {
  for (const R of [8, 4]) {
    test(`rope with ${name}, rotary ${R} of 8 equals the rotate-half composition and gradchecks`, () => {
      const [B, Tn, H, D] = [2, 5, 3, 8];
      const x = randomTensor([B, Tn, H, D], { seed: 3 }).requireGrad();
      const rows = tableShape === 'shared' ? Tn : B * Tn;
      const angles = randomTensor([rows, R / 2], { seed: 4 });
      const full = T.concat([angles, angles], -1); // HF's cat(freqs, freqs)
      const cos = T.cos(full), sin = T.sin(full);
      const tab = (t: T.Tensor) => (tableShape === 'shared' ? t : t.reshape([B, Tn, 1, R]));
      const y = T.rope(x, tab(cos), tab(sin));
      // composition: applyRope on the first R channels with tables broadcast over heads
      const c4 = cos.reshape(tableShape === 'shared' ? [1, Tn, 1, R] : [B, Tn, 1, R]), s4 = sin.reshape(c4.shape);
      const rot = T.applyRope(T.slice(x, 3, 0, R), c4, s4);
      const ref = R === D ? rot : T.concat([rot, T.slice(x, 3, R, D)], 3);
      assertClose(y, ref, { atol: 1e-12 }, 'forward');
      gradcheck((v) => T.rope(v, tab(cos), tab(sin)), [x]);
    });
  }
}
