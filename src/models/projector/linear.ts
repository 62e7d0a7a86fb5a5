// The plain linear projector (LLaVA-1.0 `linear`, Qwen2-Audio `multi_modal_projector.linear`): one Linear from
// the encoder width to the LLM width. The field is named `linear` to match those checkpoints.

import { Linear } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';
import type { Tensor } from '../../tensor/index.ts';

export class LinearProjector extends Module {
  linear: Linear;
  constructor(readonly inFeatures: number, readonly outFeatures: number, bias = true) {
    super();
    this.linear = new Linear(inFeatures, outFeatures, { bias });
  }
  /** [.., Cin] → [.., Cout] */
  forward(x: Tensor): Tensor {
    return this.linear.forward(x);
  }
}
