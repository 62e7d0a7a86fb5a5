// Module: a tree of named parameters, found by walking a module's own fields (a Parameter is a parameter, a
// Module a child, an array of Modules a numbered list), so names come out dotted as in PyTorch:
// `layers.3.attn.q.weight`. stateDict/loadStateDict use those names; loading copies values into the
// existing tensors, so optimisers holding them keep working.

import type { DType } from '../tensor/dtype.ts';
import { toFloat32 } from '../tensor/dtype.ts';
import { Tensor } from '../tensor/tensor.ts';
import { sameShape, shapeStr, type Shape } from '../tensor/shape.ts';
import { getBackend } from '../backend/registry.ts';

/** A trainable tensor owned by a module. Frozen parameters keep their place in the state dict. */
export class Parameter extends Tensor {
  constructor(t: Tensor) {
    if (!t.isContiguous || t.offset !== 0) throw new Error('a Parameter needs a contiguous tensor');
    super(t.storage, t.dtype, t.shape);
    this.requiresGrad = true;
  }
}

/** Anything with the plain-data shape of a checkpoint tensor. */
export interface TensorData {
  readonly dtype: DType;
  readonly shape: Shape;
  readonly data: ArrayLike<number> | BigInt64Array | Uint16Array;
}

export class Module {
  training = true;

  /** Children and parameters in field order, with dotted names. */
  *namedParameters(prefix = ''): Generator<[string, Parameter]> {
    for (const [key, value] of Object.entries(this)) {
      const name = prefix ? `${prefix}.${key}` : key;
      if (value instanceof Parameter) yield [name, value];
      else if (value instanceof Module) yield* value.namedParameters(name);
      else if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const v: unknown = value[i];
          if (v instanceof Module) yield* v.namedParameters(`${name}.${i}`);
          else if (v instanceof Parameter) yield [`${name}.${i}`, v];
        }
      }
    }
  }

  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [key, value] of Object.entries(this)) {
      const name = prefix ? `${prefix}.${key}` : key;
      if (value instanceof Module) yield* value.namedModules(name);
      else if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const v: unknown = value[i];
          if (v instanceof Module) yield* v.namedModules(`${name}.${i}`);
        }
      }
    }
  }

  parameters(): Parameter[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }

  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  train(flag = true): this {
    for (const [, m] of this.namedModules()) m.training = flag;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Stops (or restarts) gradients for every parameter of this module. */
  freeze(frozen = true): this {
    for (const p of this.parameters()) p.requiresGrad = !frozen;
    return this;
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  stateDict(): Map<string, Parameter> {
    return new Map(this.namedParameters());
  }

  /**
   * Copies tensors into the parameters by name. Missing keys, unexpected keys and shape mismatches are
   * collected and reported together; `strict: false` tolerates missing and unexpected keys (not shapes).
   */
  loadStateDict(source: ReadonlyMap<string, TensorData | Tensor>, opts: { strict?: boolean; source?: string } = {}): void {
    const strict = opts.strict ?? true, where = opts.source ? ` (from ${opts.source})` : '';
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !source.has(k));
    const unexpected = [...source.keys()].filter((k) => !own.has(k));
    const badShape: string[] = [];
    for (const [k, p] of own) {
      const s = source.get(k);
      if (s && !sameShape(s.shape, p.shape)) badShape.push(`${k}: checkpoint ${shapeStr(s.shape)} vs model ${shapeStr(p.shape)}`);
    }
    const problems: string[] = [];
    if (badShape.length) problems.push(`shape mismatch for ${badShape.length} key(s): ${badShape.slice(0, 10).join('; ')}`);
    if (strict && missing.length) problems.push(`missing ${missing.length} key(s): ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}`);
    if (strict && unexpected.length) problems.push(`unexpected ${unexpected.length} key(s): ${unexpected.slice(0, 10).join(', ')}${unexpected.length > 10 ? ', …' : ''}`);
    if (problems.length) throw new Error(`loadStateDict${where}: ${problems.join('; ')}`);
    for (const [k, p] of own) {
      const s = source.get(k);
      if (s) copyInto(p, s);
    }
  }
}

function copyInto(p: Tensor, s: TensorData | Tensor): void {
  const dst = p.storage as Float32Array;
  if (s instanceof Tensor) { dst.set(s.toFloat32Array()); return; }
  if (s.dtype === p.dtype && !(s.data instanceof BigInt64Array)) { dst.set(s.data as ArrayLike<number>); return; }
  dst.set(toFloat32(s.dtype, s.data as Float32Array));
}

/** A new parameter of the given shape filled by `init` (a function of the flat index). */
export function parameter(shape: Shape, fill: (i: number) => number, dtype: DType = 'float32'): Parameter {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = getBackend().alloc(dtype, n) as Float32Array;
  for (let i = 0; i < n; i++) data[i] = fill(i);
  return new Parameter(new Tensor(data, dtype, shape));
}
