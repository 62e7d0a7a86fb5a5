// The test helpers themselves can fail: gradcheck rejects a wrong backward rule and names the worst
// element, assertClose names the element that differs, and randomTensor's layouts are the views they claim.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from './index.ts';
import { output } from './ops/util.ts';
import { assertClose, erfRef, gradcheck, randomTensor } from './testing.ts';

/** x² whose backward forgets the factor 2 at element 1 (a planted bug). */
function badSquare(x: T.Tensor): T.Tensor {
  const v = x.toFloat64().map((a) => a * a);
  return output(v, 'float64', x.shape, [x], 'badSquare', (g) => [g.mul(x).mul(T.tensor([2, 1, 2], { dtype: 'float64' }))]);
}

test('gradcheck passes a correct rule and rejects a wrong one, naming the element', () => {
  const x = randomTensor([3], { seed: 1 }).requireGrad();
  const ok = gradcheck((a) => a.square(), [x]);
  assert.equal(ok.checked, 3);
  assert.ok(ok.maxAbsDiff < 1e-8);
  assert.throws(() => gradcheck(badSquare, [x]), /gradcheck failed: input 0 \[3\] at \[1\]: analytic/);
  assert.throws(() => gradcheck((a) => a.square(), [randomTensor([2])]), /no input requires grad/);
  assert.throws(() => gradcheck((a) => a, [T.zeros([2]).requireGrad()]), /must be float64/);
});

test('gradcheck on an expanded view compares per storage element', () => {
  const x = randomTensor([3, 2], { layout: 'expanded', seed: 2 }).requireGrad();
  assert.deepEqual([...x.strides], [0, 1]);
  assert.equal(gradcheck((a) => a.mul(a).sum(0), [x]).checked, 2);
});

test('assertClose names the worst element and treats NaN as equal to NaN', () => {
  assert.throws(() => assertClose([1, 2, 3], [1, 2.5, 3]), /element 1 is 2, expected 2.5/);
  assertClose([NaN, Infinity], [NaN, Infinity]);
  assert.throws(() => assertClose([Infinity], [1]), /element 0/);
});

test('randomTensor layouts are the views they claim to be', () => {
  const t = randomTensor([2, 3], { layout: 'transposed', seed: 3 });
  assert.deepEqual([...t.strides], [1, 2]);
  const s = randomTensor([2, 3], { layout: 'strided', seed: 3 });
  assert.deepEqual([s.offset, ...s.strides], [1, 7, 2]);
  const o = randomTensor([2, 3], { layout: 'offset', seed: 3 });
  assert.ok(o.isContiguous && o.offset === 3);
  for (const v of [t, s]) assert.equal(v.isContiguous, false);
  const u = randomTensor([100], { low: 2, high: 3, seed: 4 }).toList();
  assert.ok(u.every((v) => v >= 2 && v < 3));
});

test('erfRef (the independent erf) matches known values', () => {
  assertClose([erfRef(0.5), erfRef(1), erfRef(-2)], [0.5204998778130465, 0.8427007929497149, -0.9953222650189527], { atol: 1e-13 });
});
