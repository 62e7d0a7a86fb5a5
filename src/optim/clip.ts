// Gradient clipping by the global L2 norm, as torch.nn.utils.clip_grad_norm_: the norm of all gradients
// taken together; when it exceeds maxNorm every gradient is scaled by maxNorm / (norm + 1e-6).

import { mul, noGrad, type Tensor } from '../tensor/index.ts';
import type { FloatStorage } from '../tensor/dtype.ts';

/**
 * Clips the gradients of `params` (those without a grad are ignored) and returns the total norm before
 * clipping. A non-finite norm is returned as is and leaves the gradients alone, so the caller can skip
 * the step (torch would scale them by NaN).
 */
export function clipGradNorm(params: Iterable<Tensor> | Iterable<readonly [string, Tensor]>, maxNorm: number): number {
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be positive, got ${maxNorm}`);
  const withGrad: Tensor[] = [];
  for (const entry of params) {
    const p = Array.isArray(entry) ? (entry as readonly [string, Tensor])[1] : entry as Tensor;
    if (p.grad) withGrad.push(p);
  }
  let sumSq = 0;
  for (const p of withGrad) sumSq += sumOfSquares(p.grad!);
  const norm = Math.sqrt(sumSq);
  if (!Number.isFinite(norm) || norm <= maxNorm) return norm;
  const coef = maxNorm / (norm + 1e-6);
  // a new tensor rather than scaling in place: one gradient tensor can be shared by several leaves
  noGrad(() => { for (const p of withGrad) p.grad = mul(p.grad!, coef); });
  return norm;
}

function sumOfSquares(g: Tensor): number {
  const data = (g.isContiguous ? (g.storage as FloatStorage).subarray(g.offset, g.offset + g.size) : g.toFloat64()) as FloatStorage;
  let s = 0;
  for (let i = 0; i < data.length; i++) s += data[i]! * data[i]!;
  return s;
}
