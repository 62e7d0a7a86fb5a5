// LoRA (Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", 2021), as PEFT's `lora.Linear`:
// y = x·Wᵀ + b + (alpha/rank) · (x·Aᵀ)·Bᵀ with A [r, in] Kaiming-uniform and B [out, r] zero, so a fresh
// adapter leaves the model's output unchanged. The wrapper keeps the base Linear's own `weight`/`bias`
// tensors under their names, so checkpoints keep the Hugging Face names and gain `<module>.lora_A` /
// `<module>.lora_B`; `mergeLora` folds W ← W + (alpha/rank)·B·A and drops the adapters for export.
//
// Shapes: N leading dims, I in features, O out features, R rank.

import { Linear } from '../nn/layers.ts';
import { Module, parameter, type Parameter } from '../nn/module.ts';
import { kaimingUniformInit, zerosInit } from '../nn/init.ts';
import { linear, matmul, noGrad, Rng, type Tensor } from '../tensor/index.ts';

export interface LoraOptions {
  rank: number;
  alpha: number;
  /** Module-name suffixes to wrap (`q_proj` matches `llm.model.layers.0.self_attn.q_proj`). */
  targets: readonly string[];
  /** Only modules under this prefix are wrapped ('' for the whole model). */
  prefix?: string;
  seed?: number;
}

export class LoraLinear extends Linear {
  lora_A: Parameter;
  lora_B: Parameter;
  readonly scale: number;
  constructor(base: Linear, readonly rank: number, readonly alpha: number, rng: Rng) {
    // no fresh weight is allocated for the base: it is the wrapped layer's own tensors
    super(0, 0, { bias: false, init: zerosInit });
    Object.assign(this, { inFeatures: base.inFeatures, outFeatures: base.outFeatures });
    this.weight = base.weight;
    this.bias = base.bias;
    this.lora_A = parameter([rank, base.inFeatures], kaimingUniformInit(base.inFeatures, rng));
    this.lora_B = parameter([base.outFeatures, rank], zerosInit);
    this.scale = alpha / rank;
  }

  override forward(x: Tensor): Tensor {
    const delta = linear(linear(x, this.lora_A), this.lora_B); // [N.., R] → [N.., O]
    return linear(x, this.weight, this.bias).add(delta.mul(this.scale));
  }

  /** W + (alpha/rank)·B·A as a new [O, I] tensor. */
  mergedWeight(): Tensor {
    return noGrad(() => this.weight.add(matmul(this.lora_B, this.lora_A).mul(this.scale)));
  }
}

export function isLoraParam(name: string): boolean {
  return name.endsWith('.lora_A') || name.endsWith('.lora_B');
}

/** Replaces every matching Linear in place with a LoraLinear; returns the wrapped module names. */
export function applyLora(model: Module, o: LoraOptions): string[] {
  if (!(Number.isInteger(o.rank) && o.rank > 0)) throw new Error(`applyLora: rank must be a positive integer, got ${o.rank}`);
  const rng = new Rng(o.seed ?? 0);
  const prefix = o.prefix ?? '';
  const wrapped: string[] = [];
  for (const [name, m] of [...model.namedModules()]) {
    if (!(m instanceof Linear) || m instanceof LoraLinear) continue;
    if (prefix && !(name === prefix || name.startsWith(`${prefix}.`))) continue;
    if (!o.targets.some((t) => name === t || name.endsWith(`.${t}`))) continue;
    setModule(model, name, new LoraLinear(m, o.rank, o.alpha, rng));
    wrapped.push(name);
  }
  if (wrapped.length === 0) throw new Error(`applyLora: no Linear under "${prefix || '(root)'}" matches targets [${o.targets.join(', ')}]`);
  return wrapped;
}

/** Folds every adapter into its base weight and puts a plain Linear back; returns the merged module names. */
export function mergeLora(model: Module): string[] {
  const merged: string[] = [];
  for (const [name, m] of [...model.namedModules()]) {
    if (!(m instanceof LoraLinear)) continue;
    const plain = new Linear(0, 0, { bias: false, init: zerosInit });
    Object.assign(plain, { inFeatures: m.inFeatures, outFeatures: m.outFeatures });
    const w = m.mergedWeight();
    (m.weight.storage as Float32Array).set(w.toFloat32Array());
    plain.weight = m.weight;
    plain.bias = m.bias;
    setModule(model, name, plain);
    merged.push(name);
  }
  return merged;
}

/** Sets the child module at a dotted path (`layers.3.attn.q_proj`), arrays included. */
function setModule(root: Module, path: string, child: Module): void {
  const keys = path.split('.');
  let parent: unknown = root;
  for (const k of keys.slice(0, -1)) parent = (parent as Record<string, unknown>)[k];
  const last = keys[keys.length - 1]!;
  if (typeof parent !== 'object' || parent === null || !(last in parent)) throw new Error(`LoRA: no module at ${path}`);
  (parent as Record<string, unknown>)[last] = child;
}
