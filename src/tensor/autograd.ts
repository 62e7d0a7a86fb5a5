// Reverse-mode autodiff over the tape that ops leave in `gradFn`. backward() walks the graph from a scalar
// in reverse topological order, summing gradients that meet, and accumulates into `.grad` of leaves
// (so calling it over several micro-batches accumulates, as in torch). Backward rules run under noGrad.
//
// Memory: the gradients flowing through the pass are temporaries, and tensor storage otherwise returns to the
// backend only when the garbage collector finds it (on the wasm heap, after hundreds of MB of newer blocks, so
// every kernel wrote to cache-cold memory). backward() frees a gradient's storage as soon as the pass is done
// with it: only storage that ops allocated during this pass, that no pending gradient or leaf `.grad` holds,
// and whose memory no gradient returned by a rule aliases. A rule that keeps its input gradient beyond its
// return is not supported (none does).

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
/** One slice's gradient, waiting to be gathered into its input's gradient. */
export interface WindowGrad {
  readonly grad: Tensor;
  readonly axis: number;
  readonly start: number;
  readonly step: number;
}
/** The gradient of x from the gradients of some of its windows (zero elsewhere, summed where they overlap). */
type GatherFn = (x: Tensor, windows: readonly WindowGrad[]) => Tensor;
/** How backward learns which storage ops allocate (record into a set, or stop with null) and gives it back. */
export interface AutogradMemory {
  record(into: Set<Tensor['storage']> | null): void;
  release(storage: Tensor['storage']): void;
}
let addImpl: AddFn | null = null;
let onesLikeImpl: OnesLike | null = null;
let gatherImpl: GatherFn | null = null;
let memoryImpl: AutogradMemory | null = null;

/** ops/ registers what backward needs, keeping this file free of import cycles. */
export function registerAutogradOps(add: AddFn, onesLike: OnesLike, gather: GatherFn, memory: AutogradMemory | null = null): void {
  addImpl = add;
  onesLikeImpl = onesLike;
  gatherImpl = gather;
  memoryImpl = memory;
}

/** True when two typed arrays may share memory (views of one wasm memory made across a grow are different buffer objects). */
function overlaps(a: Tensor['storage'], b: Tensor['storage']): boolean {
  const sameMemory = a.buffer === b.buffer || (a.buffer instanceof SharedArrayBuffer && b.buffer instanceof SharedArrayBuffer);
  return sameMemory && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
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
  const add = addImpl!, onesLike = onesLikeImpl!, gather = gatherImpl!;
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
  // slice gradients per input id, gathered when the walk reaches that input (after every slice of it)
  const windows = new Map<number, WindowGrad[]>();
  const prev = isGradEnabled();
  // storage allocated during this pass; how many pending gradients hold each; what must outlive the pass
  const mem = opts.retainGraph ? null : memoryImpl;
  const born = new Set<Tensor['storage']>(), holders = new Map<Tensor['storage'], number>(), kept = new Set<Tensor['storage']>();
  const hold = (t: Tensor, d: number) => { if (born.has(t.storage)) holders.set(t.storage, (holders.get(t.storage) ?? 0) + d); };
  const done = (t: Tensor) => {
    const s = t.storage;
    if (!mem || !born.has(s) || kept.has(s) || (holders.get(s) ?? 0) > 0) return;
    born.delete(s);
    holders.delete(s);
    mem.release(s);
  };
  enabled = false;
  mem?.record(born);
  try {
    grads.set(root.id, grad ?? onesLike(root)); // the caller's gradient predates the pass, so it is never freed
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i]!;
      let g = grads.get(t.id);
      if (g) {
        grads.delete(t.id);
        hold(g, -1);
      }
      const ws = windows.get(t.id);
      if (ws) {
        windows.delete(t.id);
        for (const w of ws) hold(w.grad, -1);
        const gw = gather(t, ws);
        for (const w of ws) done(w.grad);
        if (g) {
          const sum = add(g, gw);
          done(g);
          done(gw);
          g = sum;
        } else g = gw;
      }
      if (!g) continue;
      const win = t.gradFn?.window;
      if (win) {
        // a slice: its gradient waits for the input's other windows (see GradFn.window)
        const x = t.gradFn!.inputs[0]!;
        if (x.requiresGrad) {
          let list = windows.get(x.id);
          if (!list) windows.set(x.id, (list = []));
          list.push({ grad: g, ...win });
          hold(g, 1);
        } else done(g);
        if (!opts.retainGraph) t.gradFn = released;
        continue;
      }
      if (!t.gradFn) {
        if (t.grad) {
          t.grad = add(t.grad, g);
          done(g);
        } else t.grad = g;
        kept.add(t.grad.storage);
        continue;
      }
      const inGrads = t.gradFn.backward(g);
      const spent: Tensor[] = [g];
      t.gradFn.inputs.forEach((x, j) => {
        const gx = inGrads[j];
        if (!gx) return;
        // a gradient that is another view of g's memory (not its storage object) keeps g's storage for good
        if (gx.storage !== g.storage && overlaps(gx.storage, g.storage)) kept.add(g.storage);
        if (!x || !x.requiresGrad) { spent.push(gx); return; }
        const acc = grads.get(x.id);
        if (acc) {
          const sum = add(acc, gx);
          hold(acc, -1);
          spent.push(acc, gx);
          grads.set(x.id, sum);
          hold(sum, 1);
        } else {
          grads.set(x.id, gx);
          hold(gx, 1);
        }
      });
      for (const s of spent) done(s);
      if (!opts.retainGraph) t.gradFn = released;
    }
  } finally {
    mem?.record(null);
    enabled = prev;
  }
}
