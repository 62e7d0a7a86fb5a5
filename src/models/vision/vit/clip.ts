// CLIP vision tower (Radford et al. 2021; transformers `CLIPVisionTransformer`): patch conv without bias,
// a learned class token, learned absolute positions, `pre_layrnorm`, the encoder, and `post_layernorm`
// applied to the class token only (the pooler output). As in transformers, hidden_states[0] is after
// pre_layrnorm and `last_hidden_state` is the raw last layer (no post_layernorm).
//
// Shapes: B images, P patches per image, N = P + 1 tokens, C hidden.

import { Conv2d, Embedding, LayerNorm } from '../../../nn/layers.ts';
import { Module, parameter, type Parameter } from '../../../nn/module.ts';
import { normalInit } from '../../../nn/init.ts';
import { arange, concat, slice, type Tensor } from '../../../tensor/index.ts';
import { checkPixels, gridSize, type VitConfig } from './config.ts';
import { VitEncoder, type VisionOutput, type VisionTower } from './encoder.ts';

class ClipEmbeddings extends Module {
  class_embedding: Parameter;
  patch_embedding: Conv2d;
  position_embedding: Embedding;
  constructor(private readonly cfg: VitConfig) {
    super();
    const C = cfg.hiddenSize;
    this.class_embedding = parameter([C], normalInit(0.02));
    this.patch_embedding = new Conv2d(cfg.numChannels, C, cfg.patchSize, { stride: cfg.patchSize, bias: false });
    this.position_embedding = new Embedding(gridSize(cfg) ** 2 + 1, C);
  }
  forward(pixels: Tensor): Tensor {
    checkPixels(pixels, this.cfg);
    const B = pixels.shape[0]!, C = this.cfg.hiddenSize;
    const patches = this.patch_embedding.forward(pixels).flatten(2).transpose(1, 2); // [B, P, C]
    const cls = this.class_embedding.reshape([1, 1, C]).expand([B, 1, C]); // [B, 1, C]
    const x = concat([cls, patches], 1); // [B, N, C]
    const N = x.shape[1]!;
    return x.add(this.position_embedding.forward(arange(N, undefined, 1, 'int32')).reshape([1, N, C]));
  }
}

export class ClipVisionTower extends Module implements VisionTower {
  embeddings: ClipEmbeddings;
  pre_layrnorm: LayerNorm;
  encoder: VitEncoder;
  post_layernorm: LayerNorm;
  constructor(readonly cfg: VitConfig) {
    super();
    this.embeddings = new ClipEmbeddings(cfg);
    this.pre_layrnorm = new LayerNorm(cfg.hiddenSize, cfg.layerNormEps);
    this.encoder = new VitEncoder(cfg);
    this.post_layernorm = new LayerNorm(cfg.hiddenSize, cfg.layerNormEps);
  }
  forward(pixels: Tensor, numLayers = this.cfg.numLayers): VisionOutput {
    const hiddenStates = this.encoder.forward(this.pre_layrnorm.forward(this.embeddings.forward(pixels)), numLayers);
    if (numLayers < this.cfg.numLayers) return { hiddenStates, lastHiddenState: null, poolerOutput: null };
    const last = hiddenStates[hiddenStates.length - 1]!; // [B, N, C]
    const cls = slice(last, 1, 0, 1).squeeze(1); // [B, C]
    return { hiddenStates, lastHiddenState: last, poolerOutput: this.post_layernorm.forward(cls) };
  }
}
