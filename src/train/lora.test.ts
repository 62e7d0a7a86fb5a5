// LoRA: a fresh adapter leaves outputs unchanged; merged weights equal W + B·A·(alpha/rank) and give the
// same outputs as the adapted model; with LoRA on, only lora_A/lora_B (and other listed parts) train.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Linear } from '../nn/layers.ts';
import { noGrad, Rng, tensor } from '../tensor/index.ts';
import { applyLora, LoraLinear, mergeLora } from './lora.ts';
import { trainLoop } from './loop.ts';
import { selectTrainable } from './params.ts';
import { tinyCorpus, tinyLm, tinyObjective } from './testing/tiny-lm.ts';

test('a fresh adapter changes nothing; merge gives W + B·A·alpha/rank and the same outputs', () => {
  const model = tinyLm(1);
  const ids = tinyCorpus(1)[0]!.ids;
  const input = { inputIds: tensor(ids, { shape: [1, ids.length], dtype: 'int32' }) };
  const before = noGrad(() => model.forward(input).logits.toFloat32Array());
  const wrapped = applyLora(model, { rank: 2, alpha: 8, targets: ['q_proj', 'v_proj'], prefix: 'model' });
  assert.deepEqual(wrapped, ['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.v_proj', 'model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.v_proj']);
  assert.deepEqual(noGrad(() => model.forward(input).logits.toFloat32Array()), before);

  const q = model.model.layers[0]!.self_attn.q_proj as LoraLinear;
  assert.ok(q instanceof LoraLinear);
  const rng = new Rng(3);
  const B = q.lora_B.storage as Float32Array;
  for (let i = 0; i < B.length; i++) B[i] = rng.normal();
  const W = q.weight.toFloat32Array(), A = q.lora_A.toFloat32Array(), [O, I] = q.weight.shape as [number, number], R = 2;
  const adapted = noGrad(() => model.forward(input).logits.toFloat32Array());
  assert.notDeepEqual(adapted, before);
  mergeLora(model);
  const merged = model.model.layers[0]!.self_attn.q_proj;
  assert.ok(!(merged instanceof LoraLinear) && merged instanceof Linear);
  let maxDiff = 0;
  for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) {
    let ba = 0;
    for (let r = 0; r < R; r++) ba += B[o * R + r]! * A[r * I + i]!;
    maxDiff = Math.max(maxDiff, Math.abs(merged.weight.toFloat32Array()[o * I + i]! - (W[o * I + i]! + ba * (8 / 2))));
  }
  assert.ok(maxDiff < 1e-5, `merged weight maxdiff ${maxDiff}`);
  assert.ok(![...model.namedParameters()].some(([n]) => n.includes('lora')), 'no adapter left after merge');
  const after = noGrad(() => model.forward(input).logits.toFloat32Array());
  assert.ok(after.every((v, i) => Math.abs(v - adapted[i]!) < 1e-4), 'merged model = adapted model');
});

test('with LoRA only the adapters of the wrapped part train; base weights stay bit-identical', async () => {
  const model = tinyLm(2);
  applyLora(model, { rank: 2, alpha: 4, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], prefix: 'model' });
  const stage = { trainable: ['model'], lr: { model: 1e-2 }, weightDecay: 0, lora: { rank: 2, alpha: 4, targets: ['q_proj'], prefix: 'model' } };
  const split = selectTrainable(model, stage);
  assert.ok(split.trained.every(([n]) => n.endsWith('lora_A') || n.endsWith('lora_B')));
  assert.equal(split.trained.length, 16);
  const before = new Map([...model.namedParameters()].map(([n, p]) => [n, p.toFloat32Array()]));
  const dir = mkdtempSync(join(tmpdir(), 'tessera-lora-'));
  try {
    await trainLoop({ objective: tinyObjective(model), runDir: dir, quiet: true, sources: [{ name: 'c', samples: tinyCorpus(8), weight: 1 }],
      stage: { name: 'lora', steps: 3, batchSize: 4, gradAccum: 1, warmup: 0, minLrRatio: 1, clip: 1, evalEvery: 0, checkpointEvery: 0, keepLast: 1, seed: 0, ...stage } });
    for (const [n, p] of model.namedParameters()) {
      const same = before.get(n)!.every((v, i) => Object.is(v, p.toFloat32Array()[i]));
      assert.equal(same, !n.endsWith('lora_B') && !n.endsWith('lora_A'), `${n} ${same ? 'unchanged' : 'changed'}`);
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
