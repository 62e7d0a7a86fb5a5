// Gradient clipping by the global L2 norm, as torch.nn.utils.clip_grad_norm_: the norm of all gradients
// taken together; when it exceeds maxNorm every gradient is scaled by maxNorm / (norm + 1e-6). A trainer that
// steps AdamW right after can skip the scaled copies: `gradNorm` + `clipCoefficient`, then
// `opt.step(coefficient)`, which reads every gradient times the coefficient in its own kernel.

import { kernel } from '../backend/registry.ts';
import { mul, noGrad, type Tensor } from '../tensor/index.ts';
import type { FloatStorage } from '../tensor/dtype.ts';

/**
 * Clips the gradients of `params` (those without a grad are ignored) and returns the total norm before
 * clipping. A non-finite norm is returned as is and leaves the gradients alone, so the caller can skip
 * the step (torch would scale them by NaN).
 */
export function clipGradNorm(params: Params, maxNorm: number): number {
  const withGrad = gradOwners(params), norm = gradNorm(withGrad), coef = clipCoefficient(norm, maxNorm);
  if (coef === 1) return norm;
  // a new tensor rather than scaling in place: one gradient tensor can be shared by several leaves
  noGrad(() => { for (const p of withGrad) p.grad = mul(p.grad!, coef); });
  return norm;
}

/** The L2 norm of all gradients of `params` taken together (parameters without a grad are ignored). */
export function gradNorm(params: Params): number {
  let sumSq = 0;
  for (const p of gradOwners(params)) sumSq += sumOfSquares(p.grad!);
  return Math.sqrt(sumSq);
}

/** What clipping multiplies the gradients by: maxNorm / (norm + 1e-6) above maxNorm, else 1 (also for a non-finite norm). */
export function clipCoefficient(norm: number, maxNorm: number): number {
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be positive, got ${maxNorm}`);
  return !Number.isFinite(norm) || norm <= maxNorm ? 1 : maxNorm / (norm + 1e-6);
}

type Params = Iterable<Tensor> | Iterable<readonly [string, Tensor]>;

function gradOwners(params: Params): Tensor[] {
  const out: Tensor[] = [];
  for (const entry of params) {
    const p = Array.isArray(entry) ? (entry as readonly [string, Tensor])[1] : entry as Tensor;
    if (p.grad) out.push(p);
  }
  return out;
}

function sumOfSquares(g: Tensor): number {
  const data = (g.isContiguous ? (g.storage as FloatStorage).subarray(g.offset, g.offset + g.size) : g.toFloat64()) as FloatStorage;
  return kernel('sumSquares', g.isContiguous ? g.dtype : 'float64')(data);
}
