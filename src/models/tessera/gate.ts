// Gated projectors: LLaVA's mlp2x_gelu and Qwen2-Audio's Linear projector, each followed by a learned
// per-channel gain `gate` [C] (config `projector_gate: true`). Why: a from-scratch tower's features grow during
// training (RMS 10–15 after a few hundred steps at the recipes' rates) while the text embeddings sit near the
// init std (~0.05); media rows then dominate their residual stream, the decoder's pre-norm divides their gradient
// by that RMS, and the model learns the answer prior from the question instead (issue 5). The gate starts at the
// text-embedding scale (initTessera) and learns from there, as the small-initialised gates of Flamingo's
// tanh-gated cross-attention or ReZero's residual scalars do.
//
// A per-channel gain after the last Linear is exactly a row scale of that Linear (W' = diag(g)·W, b' = g ⊙ b),
// so `foldGate` turns a gated projector back into LLaVA's / Qwen2-Audio's plain one for the HF exports.
// Shapes: C LLM width, Cin projector input width.

import { parameter, type Module, type Parameter } from '../../nn/module.ts';
import type { Tensor } from '../../tensor/index.ts';
import { LinearProjector } from '../projector/linear.ts';
import { MlpProjector, type MlpProjectorConfig } from '../projector/mlp.ts';

export class GatedMlpProjector extends MlpProjector {
  gate: Parameter;
  constructor(cfg: MlpProjectorConfig) {
    super(cfg);
    this.gate = parameter([cfg.outFeatures], () => 1);
  }
  override forward(x: Tensor): Tensor {
    return super.forward(x).mul(this.gate); // [.., C] ⊙ [C]
  }
}

export class GatedLinearProjector extends LinearProjector {
  gate: Parameter;
  constructor(inFeatures: number, outFeatures: number) {
    super(inFeatures, outFeatures);
    this.gate = parameter([outFeatures], () => 1);
  }
  override forward(x: Tensor): Tensor {
    return super.forward(x).mul(this.gate); // [.., C] ⊙ [C]
  }
}

/** Whether a module is one of the gated projectors (its `gate` must be folded on export). */
export function isGated(m: Module | null): m is GatedMlpProjector | GatedLinearProjector {
  return m instanceof GatedMlpProjector || m instanceof GatedLinearProjector;
}

/**
 * The last Linear of a gated projector with the gate folded in: weight [C, Cin] rows times gate, bias times gate.
 * `prefix` is the projector's parameter name ('visionProjector'); the keys returned are under it.
 */
export function foldGate(prefix: string, m: GatedMlpProjector | GatedLinearProjector): Map<string, { shape: number[]; data: Float32Array }> {
  const last = m instanceof GatedMlpProjector ? { name: 'linear_2', layer: m.linear_2 } : { name: 'linear', layer: m.linear };
  const g = m.gate.toFloat32Array();
  const [C, Cin] = last.layer.weight.shape as [number, number];
  if (g.length !== C) throw new Error(`${prefix}.gate has ${g.length} channels but ${prefix}.${last.name} has ${C} outputs`);
  const w = last.layer.weight.toFloat32Array().slice();
  for (let o = 0; o < C; o++) for (let i = 0; i < Cin; i++) w[o * Cin + i]! *= g[o]!;
  const out = new Map([[`${prefix}.${last.name}.weight`, { shape: [C, Cin], data: w }]]);
  if (last.layer.bias) {
    const b = last.layer.bias.toFloat32Array().slice();
    for (let o = 0; o < C; o++) b[o]! *= g[o]!;
    out.set(`${prefix}.${last.name}.bias`, { shape: [C], data: b });
  }
  return out;
}
