// The schedules at the points that define their shape: warm-up start and end, the cosine midpoint, the end,
// and past the end, against HF's get_*_schedule_with_warmup formulas worked by hand.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lrAt, schedule } from './schedule.ts';

const close = (a: number, b: number): void => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

test('cosine with warm-up: 0 → base over warm-up, base/2 at the midpoint, 0 at the end', () => {
  const o = { base: 1e-3, warmup: 10, total: 110 };
  close(lrAt(0, o), 0);
  close(lrAt(5, o), 5e-4);
  close(lrAt(10, o), 1e-3);
  close(lrAt(60, o), 5e-4);
  close(lrAt(35, o), 1e-3 * 0.5 * (1 + Math.cos(Math.PI / 4)));
  close(lrAt(110, o), 0);
  close(lrAt(500, o), 0);
});

test('cosine with a floor decays to minLr; warm-up still starts at 0', () => {
  const o = { base: 1e-3, warmup: 10, total: 110, minLr: 1e-4 };
  close(lrAt(0, o), 0);
  close(lrAt(10, o), 1e-3);
  close(lrAt(60, o), 1e-4 + 0.9e-3 / 2);
  close(lrAt(110, o), 1e-4);
  close(lrAt(200, o), 1e-4);
});

test('linear decay and constant', () => {
  const lin = { base: 2, warmup: 4, total: 14, kind: 'linear' as const };
  close(lrAt(2, lin), 1);
  close(lrAt(4, lin), 2);
  close(lrAt(9, lin), 1);
  close(lrAt(14, lin), 0);
  const cst = { base: 2, warmup: 4, total: 14, kind: 'constant' as const };
  close(lrAt(1, cst), 0.5);
  close(lrAt(13, cst), 2);
  close(lrAt(0, { base: 3, total: 10 }), 3);
});

test('bad options are named', () => {
  assert.throws(() => schedule({ base: 1, warmup: 20, total: 10 }), /warmup \(20\) <= total \(10\)/);
  assert.throws(() => lrAt(0, { base: 1, total: 10, minLr: 2 }), /minLr \(2\) <= base \(1\)/);
  assert.throws(() => lrAt(-1, { base: 1, total: 10 }), /non-negative integer/);
});
