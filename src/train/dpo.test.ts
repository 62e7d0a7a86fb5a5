// DPO against hand computation: the sigmoid loss with and without label smoothing on chosen numbers, its
// gradient with respect to the policy log-probs, the logged rewards, and one DPO training run on the tiny
// LM whose preference accuracy and margin rise.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor } from '../tensor/index.ts';
import { dpoLoss, dpoObjective, freezeCopy, logSigmoid } from './dpo.ts';
import { collateTokens, type TokenSample } from './objective.ts';
import { trainLoop } from './loop.ts';
import { readMetrics } from './metrics.ts';
import { tinyLm, tinyPad } from './testing/tiny-lm.ts';

const t = (xs: number[]) => tensor(xs, { dtype: 'float64' });
const sig = (x: number) => 1 / (1 + Math.exp(-x));

test('logSigmoid is stable and exact', () => {
  const xs = [-800, -5, 0, 3, 800];
  logSigmoid(t(xs)).toList().forEach((v, i) => {
    const want = xs[i]! < -30 ? xs[i]! : Math.log(sig(xs[i]!));
    assert.ok(Math.abs(v - want) < 1e-12, `logσ(${xs[i]}) = ${v}, want ${want}`);
  });
});

test('the sigmoid DPO loss, its gradient and the rewards match a hand computation', () => {
  const pc = [-3.0, -10.0], pr = [-4.5, -9.0], rc = [-3.5, -9.5], rr = [-4.0, -9.2];
  for (const [beta, eps] of [[0.1, 0], [0.5, 0.2]] as const) {
    const policyChosen = t(pc).requireGrad(), policyRejected = t(pr).requireGrad();
    const r = dpoLoss(policyChosen, policyRejected, t(rc), t(rr), { beta, labelSmoothing: eps });
    let want = 0;
    const dChosen: number[] = [];
    pc.forEach((_, i) => {
      const h = (pc[i]! - pr[i]!) - (rc[i]! - rr[i]!);
      want += -(1 - eps) * Math.log(sig(beta * h)) - eps * Math.log(sig(-beta * h));
      // d/dh of the loss: −(1−ε)·β·σ(−βh) + ε·β·σ(βh)
      dChosen.push(-(1 - eps) * beta * sig(-beta * h) + eps * beta * sig(beta * h));
    });
    assert.ok(Math.abs(r.loss.item() - want) < 1e-12, `β=${beta} ε=${eps}: loss ${r.loss.item()} vs ${want}`);
    r.loss.backward();
    policyChosen.grad!.toList().forEach((g, i) => assert.ok(Math.abs(g - dChosen[i]!) < 1e-12, `dL/dπc ${g} vs ${dChosen[i]}`));
    policyRejected.grad!.toList().forEach((g, i) => assert.ok(Math.abs(g + dChosen[i]!) < 1e-12));
    r.chosenRewards.forEach((c, i) => assert.ok(Math.abs(c - beta * (pc[i]! - rc[i]!)) < 1e-12));
    r.rejectedRewards.forEach((c, i) => assert.ok(Math.abs(c - beta * (pr[i]! - rr[i]!)) < 1e-12));
  }
  // equal policy and reference: h = 0, loss = ln 2 per pair whatever the smoothing
  const z = dpoLoss(t([-1, -2]), t([-3, -4]), t([-1, -2]), t([-3, -4]), { beta: 0.3, labelSmoothing: 0.1 });
  assert.ok(Math.abs(z.loss.item() - 2 * Math.LN2) < 1e-12);
});

test('DPO on the tiny LM raises preference accuracy and margin; the reference stays frozen', async () => {
  const policy = tinyLm(6);
  const reference = freezeCopy(policy, () => tinyLm(0));
  const refBefore = reference.model.layers[0]!.mlp.up_proj.weight.toFloat32Array();
  // prompt 1..4, then answer: chosen continues +1, rejected jumps; labels on the answer only
  const pairs = Array.from({ length: 12 }, (_, i) => {
    const prompt = [1 + i, 2 + i, 3 + i, 4 + i];
    const mk = (answer: number[]): TokenSample => ({ ids: [...prompt, ...answer], labels: [...prompt.map(() => -100), ...answer] });
    return { chosen: mk([5 + i, 6 + i]), rejected: mk([30 - i, 2 + i]) };
  });
  const logits = (m: ReturnType<typeof tinyLm>) => (b: ReturnType<typeof collateTokens>) => m.forward({ inputIds: b.inputIds, attentionMask: b.attentionMask }).logits;
  const objective = dpoObjective<TokenSample, ReturnType<typeof collateTokens>>({
    policy, beta: 0.5, labelSmoothing: 0, collate: (s) => collateTokens(s, tinyPad),
    policyLogits: logits(policy), referenceLogits: logits(reference), labels: (b) => b.labels,
    tokens: (b) => b.attentionMask.toList().reduce((n, v) => n + v, 0),
  });
  const dir = mkdtempSync(join(tmpdir(), 'tessera-dpo-'));
  try {
    await trainLoop({
      objective, runDir: dir, quiet: true, sources: [{ name: 'prefs', samples: pairs, weight: 1 }],
      stage: { name: 'dpo', steps: 15, batchSize: 4, gradAccum: 1, warmup: 0, minLrRatio: 1, weightDecay: 0, clip: 10, evalEvery: 0,
        checkpointEvery: 0, keepLast: 1, seed: 1, trainable: ['model', 'lm_head'], lr: { model: 5e-3, lm_head: 5e-3 } },
    });
    const m = readMetrics(join(dir, 'metrics.jsonl'));
    assert.ok(Math.abs((m[0]!.loss as number) - Math.LN2) < 1e-5, `first loss ${m[0]!.loss} should be ln 2 (policy = reference)`);
    const last = m.slice(-3);
    console.log(`dpo loss ${m[0]!.loss} → ${m.at(-1)!.loss}, margin ${m.at(-1)!.rewards_margin}, accuracy ${m.at(-1)!.rewards_accuracy}`);
    assert.ok(last.every((r) => (r.rewards_accuracy as number) === 1), 'chosen beats rejected on the last steps');
    assert.ok(last.every((r) => (r.rewards_margin as number) > 0.3));
    assert.deepEqual(reference.model.layers[0]!.mlp.up_proj.weight.toFloat32Array(), refBefore);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
