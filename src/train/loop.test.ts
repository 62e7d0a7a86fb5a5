// The loop on a tiny text CausalLM: frozen parts stay bit-identical while trained parts move, accumulation of
// 2 micro-batches equals one batch of twice the size, the loss falls, metrics.jsonl and loss.png are written,
// checkpoints are pruned to keepLast, and an in-process resume from a checkpoint reproduces the weights.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accumulateGradients, evaluateLoss, trainLoop, type LoopStage } from './loop.ts';
import { createWasmBackend } from '../backend/wasm/index.ts';
import { withBackendAsync } from '../backend/registry.ts';
import { Module } from '../nn/module.ts';
import * as T from '../tensor/index.ts';
import { listCheckpoints } from './checkpoint.ts';
import { readMetrics } from './metrics.ts';
import { selectTrainable } from './params.ts';
import { tinyCorpus, tinyLm, tinyObjective } from './testing/tiny-lm.ts';

function stage(over: Partial<LoopStage> = {}): LoopStage {
  return {
    name: 'test', steps: 12, batchSize: 4, gradAccum: 1, warmup: 2, minLrRatio: 0.1, weightDecay: 0.01, clip: 1,
    evalEvery: 0, checkpointEvery: 0, keepLast: 2, seed: 5, trainable: ['model', 'lm_head'], lr: { model: 1e-2, lm_head: 1e-2 }, ...over,
  };
}

const snapshot = (m: ReturnType<typeof tinyLm>) => new Map([...m.namedParameters()].map(([n, p]) => [n, (p.storage as Float32Array).slice()]));
const tmp = () => mkdtempSync(join(tmpdir(), 'tessera-loop-'));

test('frozen parts are bitwise unchanged, trained parts change', async () => {
  const model = tinyLm(1), before = snapshot(model), dir = tmp();
  try {
    // layers train; lm_head has lr 0 (frozen); embeddings and the final norm are not listed (frozen)
    await trainLoop({ objective: tinyObjective(model), stage: stage({ steps: 3, trainable: ['model.layers', 'lm_head'], lr: { 'model.layers': 1e-2, lm_head: 0 } }),
      sources: [{ name: 'c', samples: tinyCorpus(16), weight: 1 }], runDir: dir, quiet: true });
    for (const [name, p] of model.namedParameters()) {
      const same = Buffer.from(before.get(name)!.buffer).equals(Buffer.from((p.storage as Float32Array).buffer));
      if (name.startsWith('model.layers.')) assert.ok(!same || name.includes('norm'), `${name} should have changed`);
      else assert.ok(same, `${name} is frozen and must be bitwise unchanged`);
    }
    assert.ok(!Buffer.from(before.get('model.layers.0.self_attn.q_proj.weight')!.buffer).equals(Buffer.from(model.model.layers[0]!.self_attn.q_proj.weight.storage.buffer as ArrayBuffer)));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a trainable prefix that matches nothing is an error naming it', () => {
  assert.throws(() => selectTrainable(tinyLm(1), { trainable: ['visionProjector'], lr: { visionProjector: 1 }, weightDecay: 0 }), /visionProjector.*matches no parameter/);
});

test('gradient accumulation of 2 × B equals one batch of 2B', () => {
  const samples = tinyCorpus(8, 9);
  const grads = (groups: number[][]) => {
    const model = tinyLm(2), obj = tinyObjective(model);
    accumulateGradients(obj, groups.map((g) => obj.collate(g.map((i) => samples[i]!))));
    return new Map([...model.namedParameters()].map(([n, p]) => [n, p.grad!.toFloat32Array()]));
  };
  const one = grads([[0, 1, 2, 3, 4, 5, 6, 7]]), two = grads([[0, 1, 2, 3], [4, 5, 6, 7]]);
  let maxDiff = 0;
  for (const [n, g] of one) {
    const h = two.get(n)!;
    for (let i = 0; i < g.length; i++) maxDiff = Math.max(maxDiff, Math.abs(g[i]! - h[i]!));
  }
  console.log(`accumulation maxdiff ${maxDiff.toExponential(2)}`);
  assert.ok(maxDiff < 1e-5, `max |grad difference| ${maxDiff}`);
});

test('the loss falls; metrics.jsonl and loss.png are written; checkpoints kept to keepLast; eval logged', async () => {
  const model = tinyLm(3), dir = tmp();
  try {
    const corpus = tinyCorpus(64);
    const r = await trainLoop({ objective: tinyObjective(model), stage: stage({ steps: 40, checkpointEvery: 10, evalEvery: 20, keepLast: 2, lr: { model: 3e-2, lm_head: 3e-2 } }),
      sources: [{ name: 'c', samples: corpus, weight: 1 }], evalSamples: corpus.slice(0, 8), runDir: dir, quiet: true });
    const m = readMetrics(join(dir, 'metrics.jsonl'));
    assert.equal(m.length, 40);
    for (const k of ['loss', 'lr', 'grad_norm', 'tokens_per_s']) assert.equal(typeof m[0]![k], 'number', k);
    assert.equal(typeof m[19]!.eval_loss, 'number');
    const first = (m[0]!.loss as number), last = (m.at(-1)!.loss as number);
    console.log(`loss ${first.toFixed(3)} → ${last.toFixed(3)}`);
    assert.ok(last < 0.7 * first, `loss ${first} → ${last}`);
    const png = readFileSync(join(dir, 'loss.png'));
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
    assert.deepEqual(listCheckpoints(dir).map((c) => c.step), [30, 40]);
    assert.equal(r.step, 40);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('resuming from a mid-run checkpoint ends with the same weights as an uninterrupted run', async () => {
  const a = tmp(), b = tmp();
  try {
    const corpus = tinyCorpus(24);
    const full = tinyLm(4);
    await trainLoop({ objective: tinyObjective(full), stage: stage({ steps: 10, checkpointEvery: 4, gradAccum: 2, batchSize: 3 }), sources: [{ name: 'c', samples: corpus, weight: 1 }], runDir: a, quiet: true });
    const part = tinyLm(4);
    await trainLoop({ objective: tinyObjective(part), stage: stage({ steps: 10, checkpointEvery: 4, gradAccum: 2, batchSize: 3 }), sources: [{ name: 'c', samples: corpus, weight: 1 }], runDir: b, quiet: true });
    // throw away the end of run b: keep only step 8, then resume with a freshly initialised (different) model
    for (const c of listCheckpoints(b)) if (c.step !== 8) rmSync(c.dir, { recursive: true });
    const resumed = tinyLm(99);
    const r = await trainLoop({ objective: tinyObjective(resumed), stage: stage({ steps: 10, checkpointEvery: 4, gradAccum: 2, batchSize: 3 }), sources: [{ name: 'c', samples: corpus, weight: 1 }], runDir: b, resume: true, quiet: true });
    assert.equal(r.resumedFrom, 8);
    const want = snapshot(full);
    for (const [n, p] of resumed.namedParameters()) assert.ok(Buffer.from(want.get(n)!.buffer).equals(Buffer.from((p.storage as Float32Array).buffer)), `${n} differs`);
    assert.equal(readMetrics(join(b, 'metrics.jsonl')).length, 10);
    assert.ok(existsSync(join(b, 'loss.png')));
  } finally { rmSync(a, { recursive: true, force: true }); rmSync(b, { recursive: true, force: true }); }
});

test("evaluateLoss gives each batch's heap blocks back: 40 batches of 48 MB fit a 1 GB wasm heap", async () => {
  const saved = process.env.TESSERA_WASM_MAX_MB;
  process.env.TESSERA_WASM_MAX_MB = '1024';
  const wasm = await createWasmBackend(1);
  try {
    // each batch allocates 48 MB of temporaries (three 16 MB tensors); their loss is 3 a unit
    const objective = {
      model: new Module(), collate: (s: readonly number[]) => s.length, units: (n: number) => n, tokens: (n: number) => n,
      lossSum: (n: number) => ({ loss: T.full([1 << 22], 1).add(1).mul(1.5).sum().div(1 << 22).mul(n) }),
    };
    const r = await withBackendAsync(wasm, () => evaluateLoss(objective, Array.from({ length: 80 }, (_, i) => i), 2));
    assert.ok(Math.abs(r.eval_loss! - 3) < 1e-4, `eval_loss ${r.eval_loss}`);
  } finally {
    if (saved === undefined) delete process.env.TESSERA_WASM_MAX_MB; else process.env.TESSERA_WASM_MAX_MB = saved;
    await wasm.runtime.close();
  }
});
