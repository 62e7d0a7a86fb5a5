// The pre-norm transformer encoder shared by CLIP and SigLIP (transformers `CLIPEncoderLayer`,
// `SiglipEncoderLayer`): x += out_proj(attn(layer_norm1(x))); x += fc2(act(fc1(layer_norm2(x)))).
// Bidirectional attention, q/k/v/out projections with biases, scale 1/sqrt(D). Field names are the HF
// module names so checkpoint keys map directly.
//
// Shapes: B images, N tokens, C hidden, H heads, D head dim.

import { LayerNorm, Linear } from '../../../nn/layers.ts';
import { Module } from '../../../nn/module.ts';
import { scaledDotProductAttention, type Tensor } from '../../../tensor/index.ts';
import { activation, type Activation } from '../../../io/hf/activations.ts';
import type { VitConfig } from './config.ts';

class SelfAttention extends Module {
  k_proj: Linear; v_proj: Linear; q_proj: Linear; out_proj: Linear;
  constructor(private readonly numHeads: number, C: number) {
    super();
    this.k_proj = new Linear(C, C);
    this.v_proj = new Linear(C, C);
    this.q_proj = new Linear(C, C);
    this.out_proj = new Linear(C, C);
  }
  forward(x: Tensor): Tensor {
    const [B, N, C] = x.shape as [number, number, number];
    const H = this.numHeads, D = C / H;
    const split = (t: Tensor): Tensor => t.reshape([B, N, H, D]).transpose(1, 2); // [B, H, N, D]
    const y = scaledDotProductAttention(split(this.q_proj.forward(x)), split(this.k_proj.forward(x)), split(this.v_proj.forward(x)));
    return this.out_proj.forward(y.transpose(1, 2).reshape([B, N, C])); // [B, N, C]
  }
}

export class VitMlp extends Module {
  fc1: Linear; fc2: Linear;
  constructor(C: number, inner: number, private readonly act: Activation) {
    super();
    this.fc1 = new Linear(C, inner);
    this.fc2 = new Linear(inner, C);
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.act(this.fc1.forward(x)));
  }
}

class EncoderLayer extends Module {
  self_attn: SelfAttention; layer_norm1: LayerNorm; mlp: VitMlp; layer_norm2: LayerNorm;
  constructor(cfg: VitConfig) {
    super();
    this.self_attn = new SelfAttention(cfg.numHeads, cfg.hiddenSize);
    this.layer_norm1 = new LayerNorm(cfg.hiddenSize, cfg.layerNormEps);
    this.mlp = new VitMlp(cfg.hiddenSize, cfg.intermediateSize, activation(cfg.hiddenAct, 'vision_config.hidden_act'));
    this.layer_norm2 = new LayerNorm(cfg.hiddenSize, cfg.layerNormEps);
  }
  forward(x: Tensor): Tensor {
    const h = x.add(this.self_attn.forward(this.layer_norm1.forward(x)));
    return h.add(this.mlp.forward(this.layer_norm2.forward(h)));
  }
}

export class VitEncoder extends Module {
  layers: EncoderLayer[];
  constructor(cfg: VitConfig) {
    super();
    this.layers = Array.from({ length: cfg.numLayers }, () => new EncoderLayer(cfg));
  }
  /** [input, output of layer 1, …, output of layer `count`] — later layers are not run at all. */
  forward(x: Tensor, count = this.layers.length): Tensor[] {
    const states = [x];
    for (let i = 0; i < count; i++) states.push(this.layers[i]!.forward(states[i]!));
    return states;
  }
}

/** What a tower returns. With `numLayers` below the depth, only the hidden states up to it are computed. */
export interface VisionOutput {
  /** [B, N, C] per entry: entry 0 is the encoder input, entry i the output of layer i. */
  readonly hiddenStates: Tensor[];
  /** [B, N, C]; null when not every layer ran. */
  readonly lastHiddenState: Tensor | null;
  /** [B, C]; null when not every layer ran. */
  readonly poolerOutput: Tensor | null;
}

export interface VisionTower extends Module {
  readonly cfg: VitConfig;
  /** pixels [B, 3, H, W]; `numLayers` caps how many encoder layers run (LLaVA stops at its feature layer). */
  forward(pixels: Tensor, numLayers?: number): VisionOutput;
}
