// CTC against brute force: the loss equals −log of the summed probability of every frame path that collapses
// to the labels (all V^T paths enumerated), its gradient matches finite differences, infeasible sequences give
// Infinity with no gradient, greedy decoding merges repeats and drops blanks, and the tape term carries the
// gradient through log-softmax to the logits.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, tensor } from '../tensor/index.ts';
import { ctcGreedy, ctcLoss, ctcTerm } from './ctc.ts';

function randomLogProbs(rng: Rng, T: number, V: number): Float64Array {
  const out = new Float64Array(T * V);
  for (let t = 0; t < T; t++) {
    let z = 0;
    for (let v = 0; v < V; v++) z += (out[t * V + v] = Math.exp(2 * rng.normal()));
    for (let v = 0; v < V; v++) out[t * V + v] = Math.log(out[t * V + v]! / z);
  }
  return out;
}

function collapse(path: readonly number[], blank: number): number[] {
  const out: number[] = [];
  path.forEach((c, t) => { if (c !== blank && c !== path[t - 1]) out.push(c); });
  return out;
}

function bruteForce(lp: Float64Array, T: number, V: number, labels: readonly number[], blank: number): number {
  let p = 0;
  const path = new Array<number>(T).fill(0);
  for (let code = 0; code < V ** T; code++) {
    let c = code, lq = 0;
    for (let t = 0; t < T; t++) { path[t] = c % V; c = Math.floor(c / V); lq += lp[t * V + path[t]!]!; }
    if (collapse(path, blank).join() === labels.join()) p += Math.exp(lq);
  }
  return -Math.log(p);
}

test('the CTC loss equals −log of the summed probability of every path that collapses to the labels', () => {
  const rng = new Rng(3);
  for (const [T, V, labels, blank] of [[5, 3, [1, 2], 0], [5, 3, [1, 1], 0], [6, 4, [3, 1, 3], 0], [4, 3, [], 0], [5, 4, [0, 2], 3], [3, 3, [2], 0]] as const) {
    const lp = randomLogProbs(rng, T, V);
    const got = ctcLoss(lp, T, V, T, labels, blank).loss, want = bruteForce(lp, T, V, labels, blank);
    assert.ok(Math.abs(got - want) < 1e-9, `T ${T} labels [${labels}]: ${got} vs brute force ${want}`);
  }
});

test('the CTC gradient matches finite differences, reads only the valid frames, and is Infinity-safe', () => {
  const rng = new Rng(5);
  const T = 7, V = 4, frames = 6, labels = [2, 2, 1];
  const lp = randomLogProbs(rng, T, V);
  const { loss, grad } = ctcLoss(lp, T, V, frames, labels);
  const h = 1e-6;
  for (let i = 0; i < T * V; i++) {
    const x = Float64Array.from(lp);
    x[i] += h;
    const up = ctcLoss(x, T, V, frames, labels).loss;
    x[i] -= 2 * h;
    const down = ctcLoss(x, T, V, frames, labels).loss;
    assert.ok(Math.abs((up - down) / (2 * h) - grad[i]!) < 1e-5, `d/d lp[${Math.floor(i / V)}, ${i % V}]: ${grad[i]} vs ${(up - down) / (2 * h)}`);
  }
  for (let i = frames * V; i < T * V; i++) assert.equal(grad[i], 0, 'frames past the valid length get no gradient');
  // every valid frame's occupancies sum to one path: the gradient row sums to −1
  for (let t = 0; t < frames; t++) assert.ok(Math.abs(grad.subarray(t * V, t * V + V).reduce((a, b) => a + b, 0) + 1) < 1e-9);
  assert.ok(loss > 0);
  // "a a" needs a blank between the repeats: three frames are the minimum, two cannot hold it
  assert.ok(Number.isFinite(ctcLoss(lp, T, V, 3, [1, 1]).loss));
  const none = ctcLoss(lp, T, V, 2, [1, 1]);
  assert.equal(none.loss, Infinity);
  assert.ok(none.grad.every((g) => g === 0));
  assert.throws(() => ctcLoss(lp, T, V, T, [0]), /label 0 is not a class/);
  assert.throws(() => ctcLoss(lp, T, V, T + 1, [1]), /8 frames of a 7-frame/);
});

test('greedy CTC decoding merges repeats and drops blanks', () => {
  // per frame argmax: 1 1 0 1 2 2 0 0 3 → 1 1 2 3
  const argmax = [1, 1, 0, 1, 2, 2, 0, 0, 3];
  const V = 4, logits = new Float32Array(argmax.length * V);
  argmax.forEach((c, t) => { logits[t * V + c] = 1; });
  assert.deepEqual(ctcGreedy(logits, V, argmax.length), [1, 1, 2, 3]);
  assert.deepEqual(ctcGreedy(logits, V, 3), [1], 'only the valid frames are read');
});

test('ctcTerm gives the summed loss and carries its gradient through log-softmax to the logits', () => {
  const rng = new Rng(9);
  const B = 3, T = 6, V = 5;
  const raw = Array.from({ length: B * T * V }, () => rng.normal());
  const frames = [6, 4, 5], labels = [[1, 3], null, [4, 4, 2]];
  const run = (values: number[]) => {
    const z = tensor(values, { shape: [B, T, V], dtype: 'float64' }).requireGrad();
    const r = ctcTerm(z.logSoftmax(-1), frames, labels);
    return { z, ...r };
  };
  const { z, loss, decoded } = run(raw);
  const lp = tensor(raw, { shape: [B, T, V], dtype: 'float64' }).logSoftmax(-1).toList();
  const want = ctcLoss(lp.slice(0, T * V), T, V, 6, [1, 3]).loss + ctcLoss(lp.slice(2 * T * V), T, V, 5, [4, 4, 2]).loss;
  assert.ok(Math.abs(loss.item() - want) < 1e-9, `${loss.item()} vs ${want}`);
  assert.equal(decoded[1], null);
  assert.deepEqual(decoded[0], ctcGreedy(lp.slice(0, T * V), V, 6));
  loss.backward();
  const g = z.grad!.toList(), h = 1e-6;
  for (const i of [0, 7, 29, 31, 45, 60, 89]) {
    const up = raw.slice(), down = raw.slice();
    up[i]! += h;
    down[i]! -= h;
    const fd = (run(up).loss.item() - run(down).loss.item()) / (2 * h);
    assert.ok(Math.abs(fd - g[i]!) < 1e-5, `d/dz[${i}]: ${g[i]} vs ${fd}`);
  }
  assert.ok(g.slice(T * V, 2 * T * V).every((x) => x === 0), 'the sample without labels gets no gradient');
});
