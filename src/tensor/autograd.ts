// Reverse-mode autodiff over the tape that ops leave in `gradFn`. backward() walks the graph from a scalar
// in reverse topological order, summing gradients that meet, and accumulates into `.grad` of leaves
// (so calling it over several micro-batches accumulates, as in torch). Backward rules run under noGrad.

import type { Tensor } from './tensor.ts';

let enabled = true;

export function isGradEnabled(): boolean {
  return enabled;
}

/** Runs fn without recording the tape (inference, optimiser steps). */
export function noGrad<T>(fn: () => T): T {
  const prev = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}

export interface BackwardOptions {
  /** Keep the graph so backward can run again through it (default false: the tape is released). */
  retainGraph?: boolean;
}

type AddFn = (a: Tensor, b: Tensor) => Tensor;
type OnesLike = (t: Tensor) => Tensor;
let addImpl: AddFn | null = null;
let onesLikeImpl: OnesLike | null = null;

/** ops/ registers the two ops backward needs, keeping this file free of import cycles. */
export function registerAutogradOps(add: AddFn, onesLike: OnesLike): void {
  addImpl = add;
  onesLikeImpl = onesLike;
}

/** Left on an op output once backward has freed its tape, so a second pass fails loudly instead of stopping there. */
const released = {
  name: 'released',
  inputs: [],
  backward(): never {
    throw new Error('backward() through a graph a second time: its tape was freed by the first pass (use retainGraph: true)');
  },
};

export function backward(root: Tensor, grad?: Tensor, opts: BackwardOptions = {}): void {
  if (!root.requiresGrad) throw new Error(`backward() on ${root.toString()}, which does not require grad`);
  if (!grad && root.size !== 1) throw new Error(`backward() without a gradient needs a scalar, got ${root.toString()}`);
  if (grad && (grad.ndim !== root.ndim || grad.shape.some((d, i) => d !== root.shape[i]))) {
    throw new Error(`backward() got a gradient of shape [${grad.shape.join(', ')}] for ${root.toString()}`);
  }
  const add = addImpl!, onesLike = onesLikeImpl!;
  // topological order by iterative DFS
  const order: Tensor[] = [];
  const seen = new Set<number>();
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, expanded] = stack.pop()!;
    if (expanded) { order.push(t); continue; }
    if (seen.has(t.id)) continue;
    seen.add(t.id);
    stack.push([t, true]);
    for (const x of t.gradFn?.inputs ?? []) if (x && x.requiresGrad && !seen.has(x.id)) stack.push([x, false]);
  }
  const grads = new Map<number, Tensor>();
  const prev = isGradEnabled();
  enabled = false;
  try {
    grads.set(root.id, grad ?? onesLike(root));
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i]!;
      const g = grads.get(t.id);
      if (!g) continue;
      grads.delete(t.id);
      if (!t.gradFn) {
        t.grad = t.grad ? add(t.grad, g) : g;
        continue;
      }
      const inGrads = t.gradFn.backward(g);
      t.gradFn.inputs.forEach((x, j) => {
        const gx = inGrads[j];
        if (!x || !x.requiresGrad || !gx) return;
        const acc = grads.get(x.id);
        grads.set(x.id, acc ? add(acc, gx) : gx);
      });
      if (!opts.retainGraph) t.gradFn = released;
    }
  } finally {
    enabled = prev;
  }
}
