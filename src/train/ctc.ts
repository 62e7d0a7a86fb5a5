// Connectionist temporal classification (Graves et al. 2006): the loss −log p(labels | frames) summed over
// every frame-level path that collapses (merge repeats, drop blanks) to the label sequence, computed with the
// forward–backward recursion over the blank-extended labels l' = (blank, l1, blank, l2, …, blank), and greedy
// decoding. It trains the audio encoder to say *which* digits are spoken *in order*: the per-frame posteriors
// are the alignment, which the attribute heads (a multi-label set per clip) cannot teach.
//
// The recursion runs in float64 log space on the host: the label sequences here are short (≤ 5) and the frame
// count small (≤ 75), so it is a few thousand adds per clip beside the encoder's GEMMs. `ctcLoss` returns the
// gradient with respect to the log-probabilities, which the caller feeds back into the tape (see ctcTerm).
//
// Shapes: T frames, V classes (index `blank` is the blank), S = 2·L + 1 extended labels.

import { noGrad, tensor, type Tensor } from '../tensor/index.ts';

const NEG = -Infinity;

function logAdd(a: number, b: number): number {
  if (a === NEG) return b;
  if (b === NEG) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

export interface CtcResult {
  /** −log p(labels | frames); Infinity when the frames cannot hold the labels (too few for the repeats). */
  loss: number;
  /** [T, V] d loss / d logProbs: minus each class's posterior occupancy per frame; zero past `frames`. */
  grad: Float64Array;
}

/**
 * CTC loss of one sequence. `logProbs` is [T, V] row-major log-softmax output; only the first `frames` rows
 * are read. An infeasible sequence returns loss Infinity and a zero gradient (PyTorch's zero_infinity).
 */
export function ctcLoss(logProbs: ArrayLike<number>, T: number, V: number, frames: number, labels: readonly number[], blank = 0): CtcResult {
  if (frames > T || frames < 0) throw new Error(`ctcLoss: ${frames} frames of a ${T}-frame sequence`);
  for (const l of labels) if (l === blank || l < 0 || l >= V || !Number.isInteger(l)) throw new Error(`ctcLoss: label ${l} is not a class in [0, ${V}) other than the blank ${blank}`);
  const S = 2 * labels.length + 1;
  const ext = Array.from({ length: S }, (_, s) => (s % 2 === 0 ? blank : labels[(s - 1) / 2]!));
  const grad = new Float64Array(T * V);
  if (frames === 0) return { loss: labels.length === 0 ? 0 : Infinity, grad };
  const lp = (t: number, s: number) => logProbs[t * V + ext[s]!]!;
  // a path may skip the blank between two different labels, never between a label and its repeat
  const canSkip = (s: number) => s >= 2 && ext[s] !== blank && ext[s] !== ext[s - 2];
  const alpha = new Float64Array(frames * S).fill(NEG), beta = new Float64Array(frames * S).fill(NEG);
  alpha[0] = lp(0, 0);
  if (S > 1) alpha[1] = lp(0, 1);
  for (let t = 1; t < frames; t++) {
    for (let s = 0; s < S; s++) {
      let a = alpha[(t - 1) * S + s]!;
      if (s >= 1) a = logAdd(a, alpha[(t - 1) * S + s - 1]!);
      if (canSkip(s)) a = logAdd(a, alpha[(t - 1) * S + s - 2]!);
      alpha[t * S + s] = a === NEG ? NEG : a + lp(t, s);
    }
  }
  const last = (frames - 1) * S;
  beta[last + S - 1] = lp(frames - 1, S - 1);
  if (S > 1) beta[last + S - 2] = lp(frames - 1, S - 2);
  for (let t = frames - 2; t >= 0; t--) {
    for (let s = S - 1; s >= 0; s--) {
      let b = beta[(t + 1) * S + s]!;
      if (s + 1 < S) b = logAdd(b, beta[(t + 1) * S + s + 1]!);
      if (s + 2 < S && canSkip(s + 2)) b = logAdd(b, beta[(t + 1) * S + s + 2]!);
      beta[t * S + s] = b === NEG ? NEG : b + lp(t, s);
    }
  }
  const logP = S > 1 ? logAdd(alpha[last + S - 1]!, alpha[last + S - 2]!) : alpha[last]!;
  if (logP === NEG) return { loss: Infinity, grad };
  // α_t(s)·β_t(s) counts frame t's emission twice: divide one out to get the paths through (t, s)
  for (let t = 0; t < frames; t++) {
    for (let s = 0; s < S; s++) {
      const ab = alpha[t * S + s]! + beta[t * S + s]!;
      if (ab === NEG) continue;
      grad[t * V + ext[s]!] -= Math.exp(ab - lp(t, s) - logP);
    }
  }
  return { loss: -logP, grad };
}

/** Best-path decoding: the argmax class per frame, repeats merged, blanks dropped. */
export function ctcGreedy(logits: ArrayLike<number>, V: number, frames: number, blank = 0): number[] {
  const out: number[] = [];
  let prev = -1;
  for (let t = 0; t < frames; t++) {
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[t * V + v]! > logits[t * V + best]!) best = v;
    if (best !== prev && best !== blank) out.push(best);
    prev = best;
  }
  return out;
}

/**
 * The summed CTC loss of a batch as a tape term: `logProbs` [B, T, V] (log-softmax, on the tape), per sample
 * its valid frames and labels (null: no CTC target, e.g. a clip of another kind). The value is Σ loss; the
 * gradient reaching `logProbs` is the recursion's. Infeasible samples are left out (zero loss and gradient).
 * Also returns each sample's greedy decoding (null where it had no target).
 */
export function ctcTerm(logProbs: Tensor, frames: readonly number[], labels: readonly (readonly number[] | null)[], blank = 0): { loss: Tensor; decoded: (number[] | null)[] } {
  const [B, T, V] = logProbs.shape as [number, number, number];
  const values = noGrad(() => logProbs.toFloat64());
  const g = new Float64Array(B * T * V);
  let total = 0, linear = 0;
  const decoded = labels.map((l, b) => {
    if (!l) return null;
    const row = values.subarray(b * T * V, (b + 1) * T * V);
    const r = ctcLoss(row, T, V, frames[b]!, l, blank);
    if (Number.isFinite(r.loss)) {
      total += r.loss;
      for (let i = 0; i < T * V; i++) {
        g[b * T * V + i] = r.grad[i]!;
        linear += r.grad[i]! * row[i]!;
      }
    }
    return ctcGreedy(row, V, frames[b]!, blank);
  });
  // Σ G·logProbs has the CTC gradient G; the constant moves its value to the CTC loss itself
  const loss = logProbs.mul(tensor(g, { shape: [B, T, V], dtype: logProbs.dtype })).sum().add(total - linear);
  return { loss, decoded };
}
