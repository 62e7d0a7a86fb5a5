// Direct Preference Optimization (Rafailov et al., 2023) with the conservative label-smoothed variant
// (cDPO; TRL's `loss_type="sigmoid"`): with h = (log πθ(yw|x) − log πθ(yl|x)) − (log πref(yw|x) − log πref(yl|x)),
//   loss = −(1 − ε)·log σ(β·h) − ε·log σ(−β·h).
// Log-probabilities are summed over the answer tokens only (labels −100 elsewhere). The reference model is
// the policy's frozen starting weights (the stage-2 model); its log-probabilities are taken without gradient.
// Logged as TRL does: rewards β·(log π − log πref) of chosen and rejected, their margin and the accuracy
// (fraction of pairs whose chosen reward is higher).
//
// Shapes: P pairs; a batch holds the P chosen rows followed by the P rejected rows.

import type { Module } from '../nn/module.ts';
import { abs, minimum, noGrad, slice, type Tensor } from '../tensor/index.ts';
import { sequenceLogProbs, type Objective } from './objective.ts';

export interface DpoOptions {
  beta: number;
  labelSmoothing: number;
}

/** log σ(x) = min(x, 0) − log(1 + e^−|x|), stable for large |x|. */
export function logSigmoid(x: Tensor): Tensor {
  return minimum(x, 0).sub(abs(x).neg().exp().add(1).log());
}

export interface DpoTerms {
  /** Scalar: the loss summed over pairs. */
  loss: Tensor;
  chosenRewards: number[];
  rejectedRewards: number[];
}

/** The DPO loss of P pairs from policy log-probs [P] (with grad) and reference log-probs [P]. */
export function dpoLoss(policyChosen: Tensor, policyRejected: Tensor, refChosen: Tensor, refRejected: Tensor, o: DpoOptions): DpoTerms {
  const logits = policyChosen.sub(policyRejected).sub(refChosen.sub(refRejected)).mul(o.beta); // [P] β·h
  let perPair = logSigmoid(logits).mul(-(1 - o.labelSmoothing)); // [P]
  if (o.labelSmoothing > 0) perPair = perPair.sub(logSigmoid(logits.neg()).mul(o.labelSmoothing));
  const chosenRewards = noGrad(() => policyChosen.sub(refChosen).mul(o.beta).toList());
  const rejectedRewards = noGrad(() => policyRejected.sub(refRejected).mul(o.beta).toList());
  return { loss: perPair.sum(), chosenRewards, rejectedRewards };
}

export interface PreferencePair<S> {
  chosen: S;
  rejected: S;
}

export interface DpoObjectiveOptions<S, B> extends DpoOptions {
  policy: Module;
  /** Collates samples into one batch (the chosen rows, then the rejected rows). */
  collate: (samples: readonly S[]) => B;
  /** Logits [2P, T, V] of the policy / the frozen reference on a batch. */
  policyLogits: (batch: B) => Tensor;
  referenceLogits: (batch: B) => Tensor;
  /** Labels [2P, T] of the batch (−100 outside the answers). */
  labels: (batch: B) => Tensor;
  tokens: (batch: B) => number;
}

export interface DpoBatch<B> {
  batch: B;
  pairs: number;
}

/** The DPO objective for the training loop: units are pairs; sums carry rewards, margin and accuracy. */
export function dpoObjective<S, B>(o: DpoObjectiveOptions<S, B>): Objective<PreferencePair<S>, DpoBatch<B>> {
  return {
    model: o.policy,
    collate: (pairs) => ({ batch: o.collate([...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)]), pairs: pairs.length }),
    units: (b) => b.pairs,
    tokens: (b) => o.tokens(b.batch),
    lossSum: ({ batch, pairs: P }) => {
      const labels = o.labels(batch);
      const policy = sequenceLogProbs(o.policyLogits(batch), labels); // [2P]
      const reference = noGrad(() => sequenceLogProbs(o.referenceLogits(batch), labels).detach()); // [2P]
      const t = dpoLoss(slice(policy, 0, 0, P), slice(policy, 0, P, 2 * P), slice(reference, 0, 0, P), slice(reference, 0, P, 2 * P), o);
      let margin = 0, accuracy = 0, chosen = 0, rejected = 0;
      t.chosenRewards.forEach((c, i) => {
        const r = t.rejectedRewards[i]!;
        margin += c - r;
        accuracy += c > r ? 1 : 0;
        chosen += c;
        rejected += r;
      });
      return { loss: t.loss, sums: { rewards_margin: margin, rewards_accuracy: accuracy, rewards_chosen: chosen, rewards_rejected: rejected } };
    },
  };
}

/** A frozen copy of a model's current weights, for the reference policy (`reference: 'frozen-initial'`). */
export function freezeCopy<M extends Module>(model: M, build: () => M): M {
  const ref = build();
  ref.loadStateDict(new Map([...model.namedParameters()].map(([n, p]) => [n, { dtype: p.dtype, shape: p.shape, data: (p.storage as Float32Array).slice() }])), { source: 'DPO reference copy' });
  ref.freeze();
  ref.eval();
  return ref;
}
