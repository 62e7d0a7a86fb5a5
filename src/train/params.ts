// Which parameters a stage trains, and the AdamW groups they go in: one group per trainable part with that
// part's lr (nanoVLM / LLaVA-1.5 learning rates per part), split in two so that norms, biases and other 1-D
// tensors get no weight decay (the usual GPT/Llama recipe). Frozen parameters get requiresGrad = false and
// are left out of the optimiser, so neither gradients nor weight decay can touch them.

import type { Module, Parameter } from '../nn/module.ts';
import type { ParamGroupSpec } from '../optim/adamw.ts';
import { hasPrefix, lrFor, type StageConfig } from './stages.ts';
import { isLoraParam } from './lora.ts';

export interface TrainableSplit {
  /** [name, parameter] pairs that train, in model order. */
  trained: [string, Parameter][];
  frozen: [string, Parameter][];
  groups: ParamGroupSpec[];
  /** Parameter count per trainable part (for the run log). */
  counts: Record<string, number>;
}

/**
 * Marks every parameter trainable or frozen per the stage and builds the optimiser groups. Throws when a
 * trainable prefix matches no parameter (a typo would otherwise silently train nothing).
 */
export function selectTrainable(model: Module, stage: Pick<StageConfig, 'trainable' | 'lr' | 'weightDecay' | 'lora'>): TrainableSplit {
  const named = [...model.namedParameters()];
  for (const part of stage.trainable) {
    if (!named.some(([n]) => hasPrefix(n, part))) {
      const tops = [...new Set(named.map(([n]) => n.split('.')[0]))].join(', ');
      throw new Error(`trainable part "${part}" matches no parameter of the model (its top-level parts: ${tops})`);
    }
  }
  const trained: [string, Parameter][] = [], frozen: [string, Parameter][] = [];
  const byGroup = new Map<string, { lr: number; decay: boolean; params: [string, Parameter][] }>();
  const counts: Record<string, number> = {};
  for (const [name, p] of named) {
    let sel = lrFor(stage, name);
    // with LoRA on a part, only the adapters of that part train; its base weights stay as they are
    if (sel && stage.lora && hasPrefix(name, stage.lora.prefix) && !isLoraParam(name)) sel = null;
    if (!sel) {
      p.requiresGrad = false;
      p.grad = null;
      frozen.push([name, p]);
      continue;
    }
    p.requiresGrad = true;
    trained.push([name, p]);
    counts[sel.part] = (counts[sel.part] ?? 0) + p.size;
    const decay = p.ndim >= 2 && !isLoraParam(name) ? stage.weightDecay > 0 : false;
    const key = `${sel.part}/${decay ? 'decay' : 'nodecay'}`;
    const g = byGroup.get(key) ?? { lr: sel.lr, decay, params: [] };
    g.params.push([name, p]);
    byGroup.set(key, g);
  }
  if (trained.length === 0) throw new Error(`stage trains nothing: every part of [${stage.trainable.join(', ')}] has lr 0`);
  const groups: ParamGroupSpec[] = [...byGroup.values()].map((g) => ({
    params: g.params, lr: g.lr, weightDecay: g.decay ? stage.weightDecay : 0,
  }));
  return { trained, frozen, groups, counts };
}
