// DeepSeek-VL aligners (transformers `DeepseekVLAligner`, `DeepseekVLHybridAligner`). The plain one maps SigLIP
// features to the text width: linear1 → GELU (exact erf, nn.GELU()) → linear2. The hybrid one projects each
// branch to half the text width, concatenates them with the **high-res half first**, then GELU → proj.
//
// Shapes: B images, N tokens per image, Cv SigLIP width, Ch high-res width (4·O), C text width.

import { Linear } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';
import { concat, gelu, type Tensor } from '../../tensor/index.ts';

export class DeepseekAligner extends Module {
  linear1: Linear;
  linear2: Linear;
  constructor(visionWidth: number, textWidth: number) {
    super();
    this.linear1 = new Linear(visionWidth, textWidth);
    this.linear2 = new Linear(textWidth, textWidth);
  }
  /** [B, N, Cv] → [B, N, C] */
  forward(x: Tensor): Tensor {
    return this.linear2.forward(gelu(this.linear1.forward(x)));
  }
}

export class DeepseekHybridAligner extends Module {
  vision_proj: Linear;
  high_res_vision_proj: Linear;
  proj: Linear;
  constructor(visionWidth: number, highResWidth: number, textWidth: number) {
    super();
    if (textWidth % 2) throw new Error(`deepseek-vl-hybrid aligner: text hidden_size ${textWidth} must be even (each branch gets half)`);
    this.vision_proj = new Linear(visionWidth, textWidth / 2);
    this.high_res_vision_proj = new Linear(highResWidth, textWidth / 2);
    this.proj = new Linear(textWidth, textWidth);
  }
  /** low [B, N, Cv], high [B, N, Ch] → [B, N, C] */
  forward(low: Tensor, high: Tensor): Tensor {
    const both = concat([this.high_res_vision_proj.forward(high), this.vision_proj.forward(low)], -1); // [B, N, C]
    return this.proj.forward(gelu(both));
  }
}
