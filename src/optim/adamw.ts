// AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization"), exactly as torch.optim.AdamW:
// p ← p·(1 − lr·wd), then the Adam step with bias corrections, m/v kept in the parameter's dtype.
// A parameter whose grad is null is skipped entirely: no decay, and its step count does not advance.
// State (m, v, step) is created lazily per parameter and keyed by the parameter's name, so a killed
// run resumes exactly from stateDict(). The arithmetic itself is the backend's `adamw` kernel.
//
//   const opt = new AdamW(model.namedParameters(), { lr: 3e-3, weightDecay: 0.01 });
//   loss.backward(); opt.step(); opt.zeroGrad();

import { getBackend, kernel } from '../backend/registry.ts';
import type { FloatStorage } from '../tensor/dtype.ts';
import { shapeStr } from '../tensor/shape.ts';
import { cast, contiguous, type Tensor } from '../tensor/index.ts';

export interface AdamWOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** (β1, β2), default (0.9, 0.999). */
  betas?: readonly [number, number];
  /** Added to the denominator (default 1e-8). */
  eps?: number;
  /** Decoupled weight decay (default 0.01, as torch). 0 excludes a group (norms, biases) from decay. */
  weightDecay?: number;
}

type Params = Iterable<Tensor> | Iterable<readonly [string, Tensor]>;

/** One group as given to the constructor: its parameters (plain or named) and hyperparameter overrides. */
export interface ParamGroupSpec extends AdamWOptions {
  params: Params;
}

/** A live group; `lr` and `weightDecay` may be changed between steps (schedules). */
export interface ParamGroup {
  lr: number;
  /** The lr the group was built with, so a schedule can scale every group by one factor. */
  readonly initialLr: number;
  betas: readonly [number, number];
  eps: number;
  weightDecay: number;
  readonly params: readonly (readonly [string, Tensor])[];
}

export interface ParamState {
  step: number;
  /** First moment (exp_avg). */
  m: FloatStorage;
  /** Second moment (exp_avg_sq). */
  v: FloatStorage;
}

/**
 * The optimiser state as plain data (copies): hyperparameters per group and moments per parameter name.
 * Loading also accepts plain number arrays for m and v (state that went through JSON).
 */
export interface AdamWStateDict<S extends ArrayLike<number> = FloatStorage> {
  groups: { lr: number; initialLr: number; betas: [number, number]; eps: number; weightDecay: number; params: string[] }[];
  state: Record<string, { step: number; m: S; v: S }>;
}

export class AdamW {
  readonly groups: ParamGroup[];
  private readonly state = new Map<string, ParamState>();

  constructor(params: Params | readonly ParamGroupSpec[], defaults: AdamWOptions = {}) {
    const specs: ParamGroupSpec[] = isGroupList(params) ? [...params] : [{ params }];
    if (specs.length === 0) throw new Error('AdamW: no parameter groups given');
    const seen = new Set<Tensor>(), names = new Set<string>();
    let index = 0;
    this.groups = specs.map((spec, gi) => {
      const lr = spec.lr ?? defaults.lr ?? 1e-3;
      const group: ParamGroup = {
        lr,
        initialLr: lr,
        betas: spec.betas ?? defaults.betas ?? [0.9, 0.999],
        eps: spec.eps ?? defaults.eps ?? 1e-8,
        weightDecay: spec.weightDecay ?? defaults.weightDecay ?? 0.01,
        params: [...spec.params].map((entry): readonly [string, Tensor] => {
          // unnamed parameters are numbered in order, as torch numbers its state
          const [name, p] = Array.isArray(entry) ? entry as readonly [string, Tensor] : [String(index), entry as Tensor];
          index++;
          if (seen.has(p)) throw new Error(`AdamW: parameter ${name} appears more than once (group ${gi})`);
          if (names.has(name)) throw new Error(`AdamW: two parameters are named ${name}`);
          if (p.dtype !== 'float32' && p.dtype !== 'float64') {
            throw new Error(`AdamW: parameter ${name} is ${p.dtype}; keep a float32 master copy for training`);
          }
          if (!p.isContiguous) throw new Error(`AdamW: parameter ${name} is not contiguous`);
          seen.add(p);
          names.add(name);
          return [name, p];
        }),
      };
      checkHyper(group, gi);
      return group;
    });
  }

  /** Sets the learning rate of one group (for a single group, `setLr(0, lr)`). */
  setLr(groupIndex: number, lr: number): void {
    const g = this.groups[groupIndex];
    if (!g) throw new Error(`AdamW.setLr: no group ${groupIndex} (have ${this.groups.length})`);
    g.lr = lr;
  }

  /** Sets every group's lr to its initial lr times `factor` (one schedule over per-part learning rates). */
  scaleLr(factor: number): void {
    for (const g of this.groups) g.lr = g.initialLr * factor;
  }

  /**
   * One AdamW update of every parameter that has a gradient, in place; each gradient is read times
   * `gradScale` (gradient clipping's coefficient, so no scaled copy of the gradients is made).
   */
  step(gradScale = 1): void {
    if (!(Number.isFinite(gradScale) && gradScale > 0)) throw new Error(`AdamW.step: gradScale must be a positive finite number, got ${gradScale}`);
    this.groups.forEach((group, gi) => {
      checkHyper(group, gi);
      const [beta1, beta2] = group.betas;
      for (const [name, p] of group.params) {
        if (!p.grad) continue;
        const g = gradData(name, p, p.grad);
        let s = this.state.get(name);
        if (!s) {
          s = { step: 0, m: newLike(p), v: newLike(p) };
          this.state.set(name, s);
        }
        s.step++;
        kernel('adamw', p.dtype)(paramData(p), g, s.m, s.v,
          { lr: group.lr, beta1, beta2, eps: group.eps, weightDecay: group.weightDecay, step: s.step, gradScale });
      }
    });
  }

  /** Drops every gradient (torch's set_to_none=True). */
  zeroGrad(): void {
    for (const g of this.groups) for (const [, p] of g.params) p.grad = null;
  }

  /** The state of one parameter by name, or undefined before its first step. */
  stateOf(name: string): Readonly<ParamState> | undefined {
    return this.state.get(name);
  }

  stateDict(): AdamWStateDict {
    const state: Record<string, ParamState> = {};
    for (const [name, s] of this.state) state[name] = { step: s.step, m: s.m.slice(), v: s.v.slice() };
    return {
      groups: this.groups.map((g) => ({
        lr: g.lr, initialLr: g.initialLr, betas: [g.betas[0], g.betas[1]], eps: g.eps, weightDecay: g.weightDecay,
        params: g.params.map(([n]) => n),
      })),
      state,
    };
  }

  /** Restores hyperparameters and moments; the parameter names and sizes must match this optimiser's. */
  loadStateDict(sd: AdamWStateDict<ArrayLike<number>>, source = 'optimizer state'): void {
    if (!sd || !Array.isArray(sd.groups) || typeof sd.state !== 'object' || sd.state === null) {
      throw new Error(`AdamW.loadStateDict (${source}): expected {groups, state}`);
    }
    if (sd.groups.length !== this.groups.length) {
      throw new Error(`AdamW.loadStateDict (${source}): ${sd.groups.length} group(s), optimiser has ${this.groups.length}`);
    }
    const byName = new Map<string, Tensor>();
    this.groups.forEach((g, gi) => {
      const got = sd.groups[gi]!.params;
      if (!Array.isArray(got)) throw new Error(`AdamW.loadStateDict (${source}): group ${gi} has no params list`);
      const want = g.params.map(([n]) => n);
      const missing = want.filter((n) => !got.includes(n)), extra = got.filter((n) => !want.includes(n));
      if (missing.length || extra.length) {
        throw new Error(`AdamW.loadStateDict (${source}): group ${gi} parameters differ` +
          `${missing.length ? `; missing ${missing.slice(0, 10).join(', ')}` : ''}${extra.length ? `; unexpected ${extra.slice(0, 10).join(', ')}` : ''}`);
      }
      for (const [n, p] of g.params) byName.set(n, p);
    });
    const loaded = new Map<string, ParamState>();
    for (const [name, s] of Object.entries(sd.state)) {
      const p = byName.get(name);
      if (!p) throw new Error(`AdamW.loadStateDict (${source}): state for unknown parameter ${name}`);
      if (!Number.isInteger(s.step) || s.step < 1) throw new Error(`AdamW.loadStateDict (${source}): ${name}.step is ${s.step}`);
      for (const key of ['m', 'v'] as const) {
        if (s[key]?.length !== p.size) {
          throw new Error(`AdamW.loadStateDict (${source}): ${name}.${key} has ${s[key]?.length} values, parameter ${shapeStr(p.shape)} has ${p.size}`);
        }
      }
      const m = newLike(p), v = newLike(p);
      m.set(s.m);
      v.set(s.v);
      loaded.set(name, { step: s.step, m, v });
    }
    // validate every group before changing any, so a bad file leaves the optimiser as it was
    const hypers = sd.groups.map((h, gi) => {
      const betas = Array.isArray(h.betas) ? [h.betas[0], h.betas[1]] as const : [NaN, NaN] as const;
      const hyper = { lr: h.lr, initialLr: h.initialLr ?? this.groups[gi]!.initialLr, betas, eps: h.eps, weightDecay: h.weightDecay };
      checkHyper(hyper, gi);
      return hyper;
    });
    hypers.forEach((h, gi) => Object.assign(this.groups[gi]!, h));
    this.state.clear();
    for (const [n, s] of loaded) this.state.set(n, s);
  }
}

function isGroupList(x: Params | readonly ParamGroupSpec[]): x is readonly ParamGroupSpec[] {
  if (!Array.isArray(x)) return false;
  const first: unknown = x[0];
  return typeof first === 'object' && first !== null && !Array.isArray(first) && 'params' in first;
}

function checkHyper(g: Pick<ParamGroup, 'lr' | 'betas' | 'eps' | 'weightDecay'>, gi: number): void {
  const [b1, b2] = g.betas;
  const bad = !(g.lr >= 0) ? `lr ${g.lr}` : !(b1 >= 0 && b1 < 1) ? `beta1 ${b1}` : !(b2 >= 0 && b2 < 1) ? `beta2 ${b2}`
    : !(g.eps >= 0) ? `eps ${g.eps}` : !(g.weightDecay >= 0) ? `weightDecay ${g.weightDecay}` : null;
  if (bad) throw new Error(`AdamW: group ${gi} has invalid ${bad}`);
}

/** Zeroed moments on the active backend, beside the parameters (a wasm backend's kernel then reads them in place). */
function newLike(p: Tensor): FloatStorage {
  return getBackend().alloc(p.dtype === 'float64' ? 'float64' : 'float32', p.size);
}

/** The parameter's own elements (a view, so the kernel writes the parameter in place). */
function paramData(p: Tensor): FloatStorage {
  return (p.storage as FloatStorage).subarray(p.offset, p.offset + p.size);
}

/** The gradient as a contiguous array of the parameter's dtype. */
function gradData(name: string, p: Tensor, g: Tensor): FloatStorage {
  if (g.size !== p.size || g.ndim !== p.ndim || g.shape.some((d, i) => d !== p.shape[i])) {
    throw new Error(`AdamW: gradient of ${name} has shape ${shapeStr(g.shape)}, parameter has ${shapeStr(p.shape)}`);
  }
  // a gradient that arrives as a strided view is copied on the backend (its storage), not into a plain array
  const same = contiguous(g.dtype === p.dtype ? g : cast(g, p.dtype));
  return (same.storage as FloatStorage).subarray(same.offset, same.offset + same.size);
}
