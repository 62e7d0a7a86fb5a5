// The reference kernels called directly: erf to double precision over its whole range (series, continued
// fraction and the saturated tails), each unary derivative against a central difference of its function,
// and matmul/reduce on strided views (stride 0 broadcast, transposed) against plain loops.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { UnaryOp } from '../backend.ts';
import { erf, unaryDerivative, unaryFn } from './math.ts';
import { matmul, reduce } from './reduce.ts';

test('erf matches torch.special.erf in float64 across the series / continued-fraction boundary', () => {
  const cases: [number, number][] = [
    [0, 0], [1e-8, 1.1283791670955126e-8], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2.9, 0.9999589021219005],
    [3, 0.9999779095030014], [3.5, 0.9999992569016276], [5, 0.9999999999984626], [-1.5, -0.9661051464753108], [7, 1],
  ];
  for (const [x, want] of cases) assert.ok(Math.abs(erf(x) - want) < 2e-15, `erf(${x}) = ${erf(x)}, want ${want}`);
});

test('every unary derivative matches a central difference of its function', () => {
  const ops: UnaryOp[] = ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'tanh', 'sigmoid', 'relu', 'silu', 'gelu', 'geluTanh',
    'quickGelu', 'square', 'sin', 'cos'];
  for (const op of ops) {
    const f = unaryFn(op), df = unaryDerivative(op);
    for (const x of [-2.3, -0.7, 0.4, 1.9, 6]) {
      if ((op === 'log' || op === 'sqrt' || op === 'rsqrt') && x <= 0) continue;
      const h = 1e-6, num = (f(x + h) - f(x - h)) / (2 * h);
      assert.ok(Math.abs(df(x) - num) < 1e-6 * Math.max(1, Math.abs(num)), `${op}'(${x}) = ${df(x)}, numeric ${num}`);
    }
  }
  assert.equal(unaryFn('sigmoid')(-800), 0, 'no overflow for large negative inputs');
  assert.equal(unaryFn('silu')(-800), -0);
});

test('matmul on broadcast and transposed views equals plain loops', () => {
  // a: one [2, 3] matrix broadcast over a batch of 2 (stride 0); b: [2, 3, 2] stored transposed as [2, 2, 3]
  const a = Float64Array.from({ length: 6 }, (_, i) => i - 2.5);
  const b = Float64Array.from({ length: 12 }, (_, i) => (i * 7) % 5 - 1);
  const out = new Float64Array(8);
  matmul({ data: a, shape: [2, 2, 3], strides: [0, 3, 1], offset: 0 }, { data: b, shape: [2, 3, 2], strides: [6, 1, 3], offset: 0 },
    [2], 2, 2, 3, out);
  const want: number[] = [];
  for (let n = 0; n < 2; n++) for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) {
    let s = 0;
    for (let k = 0; k < 3; k++) s += a[i * 3 + k]! * b[n * 6 + j * 3 + k]!;
    want.push(s);
  }
  assert.deepEqual([...out], want);
});

test('reduce over several axes of a strided view', () => {
  const x = Float64Array.from({ length: 13 }, (_, i) => i);
  // a [2, 3] view reading every other element from offset 1: [[1, 3, 5], [7, 9, 11]]
  const view = { data: x, shape: [2, 3], strides: [6, 2], offset: 1 };
  const s = new Float64Array(2), m = new Float64Array(3), all = new Float64Array(1);
  reduce('sum', view, [1], s);
  reduce('max', view, [0], m);
  reduce('min', view, [0, 1], all);
  assert.deepEqual([...s, ...m, ...all], [9, 27, 7, 9, 11, 1]);
});
