// LLaVA-1.5 `mlp2x_gelu` projector (transformers `LlavaMultiModalProjector`): linear_1 → act → linear_2,
// mapping vision features [B, N, Cv·layers] to the LLM width [B, N, Ct].

import { Linear } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';
import type { Tensor } from '../../tensor/index.ts';
import { activation, type Activation } from '../../io/hf/activations.ts';

export interface MlpProjectorConfig {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** HF `projector_hidden_act` ("gelu" is the exact erf GELU). */
  readonly act: string;
  readonly bias: boolean;
}

export class MlpProjector extends Module {
  linear_1: Linear;
  linear_2: Linear;
  private readonly act: Activation;
  constructor(readonly cfg: MlpProjectorConfig) {
    super();
    this.linear_1 = new Linear(cfg.inFeatures, cfg.outFeatures, { bias: cfg.bias });
    this.act = activation(cfg.act, 'projector_hidden_act');
    this.linear_2 = new Linear(cfg.outFeatures, cfg.outFeatures, { bias: cfg.bias });
  }
  forward(x: Tensor): Tensor {
    return this.linear_2.forward(this.act(this.linear_1.forward(x)));
  }
}
