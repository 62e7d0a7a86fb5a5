// Next-token choice over one logits row: greedy, or sampling after the transformers logits processors in the
// order `generate` applies them — repetition penalty (RepetitionPenaltyLogitsProcessor), then temperature,
// top-k, top-p and min-p (TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper, MinPLogitsWarper).
// Filters set removed entries to -Infinity and always keep at least one token, as the HF warpers do.
// Sampling draws from a seeded `Rng`, so the same seed reproduces the same tokens.

import { Rng } from '../tensor/ops/creation.ts';

export interface SamplingOptions {
  /** 0 (or absent with no other sampling option) means greedy. Default 1. */
  temperature?: number;
  /** Keep the k highest logits (ties with the k-th are kept, as torch.topk's threshold does). 0 = off. */
  topK?: number;
  /** Keep the smallest top set whose probability mass reaches p. 1 = off. */
  topP?: number;
  /** Drop tokens whose probability is below minP × the top probability. 0 = off. */
  minP?: number;
  /** > 1 discourages tokens already in the context. 1 = off. */
  repetitionPenalty?: number;
  /** Additive bias per token id (OpenAI `logit_bias`). */
  logitBias?: ReadonlyMap<number, number>;
  seed?: number;
}

/** HF semantics: a seen token's logit is divided by the penalty when positive, multiplied when negative. */
export function applyRepetitionPenalty(logits: Float32Array, seen: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const id of new Set(seen)) {
    if (id < 0 || id >= logits.length) continue;
    const v = logits[id]!;
    logits[id] = v > 0 ? v / penalty : v * penalty;
  }
}

export function applyTopK(logits: Float32Array, k: number): void {
  if (k <= 0 || k >= logits.length) return;
  const threshold = Float32Array.from(logits).sort().reverse()[k - 1]!;
  for (let i = 0; i < logits.length; i++) if (logits[i]! < threshold) logits[i] = -Infinity;
}

/** Probabilities of a logits row (softmax, -Infinity → 0). */
export function softmaxRow(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  const p = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    p[i] = logits[i] === -Infinity ? 0 : Math.exp(logits[i]! - max);
    sum += p[i]!;
  }
  for (let i = 0; i < p.length; i++) p[i]! /= sum;
  return p;
}

/**
 * HF TopPLogitsWarper: sort ascending, drop the tokens whose cumulative mass is ≤ 1 − p, keep the top one
 * regardless. Equivalently: keep the smallest highest-probability set whose mass exceeds 1 − (1 − p).
 */
export function applyTopP(logits: Float32Array, p: number): void {
  if (p >= 1) return;
  const probs = softmaxRow(logits);
  const order = Array.from(probs.keys()).sort((a, b) => probs[a]! - probs[b]! || b - a); // ascending
  let cumulative = 0;
  for (let r = 0; r < order.length - 1; r++) {
    cumulative += probs[order[r]!]!;
    if (cumulative <= 1 - p) logits[order[r]!] = -Infinity;
    else break;
  }
}

export function applyMinP(logits: Float32Array, minP: number): void {
  if (minP <= 0) return;
  const probs = softmaxRow(logits);
  let top = 0;
  for (const v of probs) if (v > top) top = v;
  const threshold = minP * top;
  for (let i = 0; i < logits.length; i++) if (probs[i]! < threshold) logits[i] = -Infinity;
}

export function argmaxRow(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

function checkRange(name: string, v: number | undefined, lo: number, hi: number): void {
  if (v !== undefined && !(Number.isFinite(v) && v >= lo && v <= hi)) throw new Error(`sampler: ${name} must be in [${lo}, ${hi}], got ${v}`);
}

export class Sampler {
  private readonly rng: Rng;
  readonly greedy: boolean;

  constructor(readonly options: SamplingOptions = {}) {
    checkRange('temperature', options.temperature, 0, 100);
    checkRange('topP', options.topP, 0, 1);
    checkRange('minP', options.minP, 0, 1);
    checkRange('repetitionPenalty', options.repetitionPenalty, 1e-6, 100);
    if (options.topK !== undefined && !(Number.isInteger(options.topK) && options.topK >= 0)) throw new Error(`sampler: topK must be an integer ≥ 0, got ${options.topK}`);
    this.greedy = options.temperature === 0;
    this.rng = new Rng(options.seed ?? Math.floor(Math.random() * 2 ** 32));
  }

  /** The processed row (penalty, bias, temperature and filters applied); `logits` is not modified. */
  process(logits: Float32Array, context: readonly number[]): Float32Array {
    const o = this.options;
    const row = Float32Array.from(logits);
    applyRepetitionPenalty(row, context, o.repetitionPenalty ?? 1);
    if (o.logitBias) for (const [id, bias] of o.logitBias) if (id >= 0 && id < row.length) row[id]! += bias;
    if (this.greedy) return row;
    const t = o.temperature ?? 1;
    if (t !== 1) for (let i = 0; i < row.length; i++) row[i]! /= t;
    applyTopK(row, o.topK ?? 0);
    applyTopP(row, o.topP ?? 1);
    applyMinP(row, o.minP ?? 0);
    return row;
  }

  /** The next token id given the logits row and the ids seen so far (prompt + generated). */
  next(logits: Float32Array, context: readonly number[]): number {
    const row = this.process(logits, context);
    if (this.greedy) return argmaxRow(row);
    const probs = softmaxRow(row);
    const u = this.rng.next();
    let acc = 0, last = 0;
    for (let i = 0; i < probs.length; i++) {
      if (probs[i] === 0) continue;
      acc += probs[i]!;
      last = i;
      if (u < acc) return i;
    }
    return last; // rounding left u ≥ the summed mass
  }
}
