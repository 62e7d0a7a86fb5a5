import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMinP, applyRepetitionPenalty, applyTopK, applyTopP, Sampler } from './sampler.ts';

const kept = (row: Float32Array): number[] => [...row.keys()].filter((i) => row[i] !== -Infinity);
const logitsOf = (probs: number[]): Float32Array => Float32Array.from(probs, Math.log);

test('repetition penalty divides positive and multiplies negative logits of seen ids only', () => {
  const row = Float32Array.from([2, -2, 3, -1]);
  applyRepetitionPenalty(row, [0, 1, 1], 2);
  assert.deepEqual([...row], [1, -4, 3, -1]);
});

test('top-k keeps the k highest, and ties with the k-th', () => {
  const row = Float32Array.from([1, 5, 3, 4, 0]);
  applyTopK(row, 2);
  assert.deepEqual(kept(row), [1, 3]);
  const tied = Float32Array.from([1, 5, 4, 4, 0]);
  applyTopK(tied, 2);
  assert.deepEqual(kept(tied), [1, 2, 3]);
});

test('top-p keeps the smallest top set reaching the mass', () => {
  const probs = [0.5, 0.3, 0.15, 0.05];
  const a = logitsOf(probs);
  applyTopP(a, 0.75);
  assert.deepEqual(kept(a), [0, 1]);
  const b = logitsOf(probs);
  applyTopP(b, 0.9);
  assert.deepEqual(kept(b), [0, 1, 2]);
  const c = logitsOf(probs);
  applyTopP(c, 0.01);
  assert.deepEqual(kept(c), [0], 'the top token is always kept');
});

test('min-p drops tokens below min_p × the top probability', () => {
  const row = logitsOf([0.5, 0.3, 0.15, 0.05]);
  applyMinP(row, 0.5); // threshold 0.25
  assert.deepEqual(kept(row), [0, 1]);
  const loose = logitsOf([0.5, 0.3, 0.15, 0.05]);
  applyMinP(loose, 0.2); // threshold 0.1
  assert.deepEqual(kept(loose), [0, 1, 2]);
});

test('greedy picks the argmax after penalty and bias', () => {
  const s = new Sampler({ temperature: 0 });
  assert.equal(s.next(Float32Array.from([1, 3, 2]), []), 1);
  const penalised = new Sampler({ temperature: 0, repetitionPenalty: 2 });
  assert.equal(penalised.next(Float32Array.from([1, 3, 2]), [1]), 2);
  const biased = new Sampler({ temperature: 0, logitBias: new Map([[0, 10]]) });
  assert.equal(biased.next(Float32Array.from([1, 3, 2]), []), 0);
});

test('sampling only ever draws kept tokens, and the same seed reproduces the draws', () => {
  const row = Float32Array.from([0.1, 2, 1.9, 1.8, -1, 0.5]);
  const draw = (seed: number): number[] => {
    const s = new Sampler({ temperature: 1.5, topK: 3, seed });
    return Array.from({ length: 200 }, () => s.next(row, []));
  };
  const a = draw(7), b = draw(7), c = draw(8);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.deepEqual([...new Set(a)].sort(), [1, 2, 3]);
});

test('bad options are clear errors', () => {
  assert.throws(() => new Sampler({ topP: 1.5 }), /topP must be in \[0, 1\]/);
  assert.throws(() => new Sampler({ topK: -1 }), /topK/);
  assert.throws(() => new Sampler({ temperature: Number.NaN }), /temperature/);
});
