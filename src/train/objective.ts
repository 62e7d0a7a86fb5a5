// What the loop optimises, as a small interface: collate samples into a batch, count the units the loss is
// averaged over, and return the loss *summed* over those units. The loop divides by the units of the whole
// optimiser step, so gradient accumulation over micro-batches equals one large batch (Hugging Face's
// `num_items_in_batch` fix). The language-model objective here is next-token cross-entropy with labels
// aligned to the inputs and shifted inside (transformers' convention: -100 = no loss), plus right padding
// and document packing for text pretraining.
//
// Shapes: B batch, T tokens, V vocab.

import type { Module } from '../nn/module.ts';
import { crossEntropy, tensor, type Tensor } from '../tensor/index.ts';

export interface LossSum {
  /** Scalar: the loss summed over the batch's units. */
  loss: Tensor;
  /** Extra sums to log, averaged by the loop over the step's units (DPO: reward margin, accuracy). */
  sums?: Record<string, number>;
}

export interface Objective<S, B> {
  /** The trained model (its parameters are the ones the loop selects from). */
  readonly model: Module;
  collate(samples: readonly S[]): B;
  /** How many units the loss of this batch sums over (label tokens, preference pairs). */
  units(batch: B): number;
  /** Tokens the batch runs through the model (for tokens/s). */
  tokens(batch: B): number;
  lossSum(batch: B): LossSum;
}

/** A tokenised sample: `labels[t]` is the target for `ids[t]`'s position itself, -100 where no loss. */
export interface TokenSample {
  ids: number[];
  labels: number[];
}

export interface TokenBatch {
  inputIds: Tensor; // [B, T] int32
  attentionMask: Tensor; // [B, T] int32
  labels: Tensor; // [B, T] int32
}

export const ignoreIndex = -100;

/** Right-pads to the longest sample; pads get mask 0 and label -100. */
export function collateTokens(samples: readonly TokenSample[], padId: number): TokenBatch {
  if (samples.length === 0) throw new Error('collateTokens: empty batch');
  const B = samples.length, T = Math.max(...samples.map((s) => s.ids.length));
  const ids = new Int32Array(B * T).fill(padId), mask = new Int32Array(B * T), labels = new Int32Array(B * T).fill(ignoreIndex);
  samples.forEach((s, b) => {
    if (s.labels.length !== s.ids.length) throw new Error(`collateTokens: sample ${b} has ${s.ids.length} ids and ${s.labels.length} labels`);
    ids.set(s.ids, b * T);
    labels.set(s.labels, b * T);
    mask.fill(1, b * T, b * T + s.ids.length);
  });
  const shape = [B, T];
  return {
    inputIds: tensor(ids, { shape, dtype: 'int32' }),
    attentionMask: tensor(mask, { shape, dtype: 'int32' }),
    labels: tensor(labels, { shape, dtype: 'int32' }),
  };
}

/** Targets for position t are labels[t + 1]; the last position of every row has none. */
export function shiftLabels(labels: Tensor): Int32Array {
  const [B, T] = labels.shape as [number, number];
  const src = labels.toList(), out = new Int32Array(B * T).fill(ignoreIndex);
  for (let b = 0; b < B; b++) for (let t = 0; t < T - 1; t++) out[b * T + t] = src[b * T + t + 1]!;
  return out;
}

export function countTargets(labels: Tensor): number {
  return shiftLabels(labels).reduce((n, v) => n + (v === ignoreIndex ? 0 : 1), 0);
}

/** Summed next-token cross-entropy of logits [B, T, V] against labels [B, T]. */
export function lmLossSum(logits: Tensor, labels: Tensor): Tensor {
  const [B, T, V] = logits.shape as [number, number, number];
  const targets = tensor(shiftLabels(labels), { shape: [B * T], dtype: 'int32' });
  return crossEntropy(logits.reshape([B * T, V]), targets, { ignoreIndex, reduction: 'sum' });
}

/** Per-row summed log-probability of the label tokens: [B] (for DPO). */
export function sequenceLogProbs(logits: Tensor, labels: Tensor): Tensor {
  const [B, T, V] = logits.shape as [number, number, number];
  const targets = tensor(shiftLabels(labels), { shape: [B * T], dtype: 'int32' });
  const nll = crossEntropy(logits.reshape([B * T, V]), targets, { ignoreIndex, reduction: 'none' }); // [B·T], 0 where ignored
  return nll.reshape([B, T]).sum(-1).neg(); // [B]
}

/** Anything that maps a token batch to logits [B, T, V] (a CausalLM, or a wrapper). */
export type LogitsFn = (batch: TokenBatch) => Tensor;

/** Next-token prediction over labelled tokens (text pretraining, or SFT on assistant tokens). */
export function languageModelObjective(model: Module, logitsOf: LogitsFn, padId: number): Objective<TokenSample, TokenBatch> {
  return {
    model,
    collate: (samples) => collateTokens(samples, padId),
    units: (b) => countTargets(b.labels),
    tokens: (b) => b.attentionMask.toList().reduce((n, m) => n + m, 0),
    lossSum: (b) => ({ loss: lmLossSum(logitsOf(b), b.labels) }),
  };
}

/**
 * Packs documents (each followed by `eosId`) into windows of exactly `maxLength` tokens, GPT-style; the tail
 * that does not fill a window is dropped. Every token is a target, so no window is mostly padding.
 */
export function packDocuments(docs: readonly (readonly number[])[], maxLength: number, eosId: number): TokenSample[] {
  const stream: number[] = [];
  for (const d of docs) stream.push(...d, eosId);
  const out: TokenSample[] = [];
  for (let start = 0; start + maxLength <= stream.length; start += maxLength) {
    const ids = stream.slice(start, start + maxLength);
    out.push({ ids, labels: ids.slice() });
  }
  return out;
}
