// SigLIP vision tower (Zhai et al. 2023; transformers `SiglipVisionTransformer`): patch conv with bias,
// learned absolute positions, no class token, the encoder, `post_layernorm`, and an attention-pooling head
// (`SiglipMultiheadAttentionPoolingHead`: one learned probe attends over all tokens through an
// nn.MultiheadAttention, then a residual MLP). hidden_states[0] is the raw embeddings and
// `last_hidden_state = post_layernorm(hidden_states[-1])`.
//
// Shapes: B images, N patches, C hidden, H heads, D head dim.

import { Conv2d, Embedding, LayerNorm, Linear } from '../../../nn/layers.ts';
import { Module, parameter, type Parameter } from '../../../nn/module.ts';
import { normalInit, zerosInit } from '../../../nn/init.ts';
import { arange, linear, scaledDotProductAttention, slice, split, type Tensor } from '../../../tensor/index.ts';
import { activation } from '../../../io/hf/activations.ts';
import { checkPixels, gridSize, type VitConfig } from './config.ts';
import { VitEncoder, VitMlp, type VisionOutput, type VisionTower } from './encoder.ts';

class SiglipEmbeddings extends Module {
  patch_embedding: Conv2d;
  position_embedding: Embedding;
  constructor(private readonly cfg: VitConfig) {
    super();
    this.patch_embedding = new Conv2d(cfg.numChannels, cfg.hiddenSize, cfg.patchSize, { stride: cfg.patchSize });
    this.position_embedding = new Embedding(gridSize(cfg) ** 2, cfg.hiddenSize);
  }
  forward(pixels: Tensor): Tensor {
    checkPixels(pixels, this.cfg);
    const x = this.patch_embedding.forward(pixels).flatten(2).transpose(1, 2); // [B, N, C]
    const N = x.shape[1]!;
    return x.add(this.position_embedding.forward(arange(N, undefined, 1, 'int32')).reshape([1, N, this.cfg.hiddenSize]));
  }
}

/** torch.nn.MultiheadAttention (batch_first) with the packed in_proj layout of its state dict. */
class MultiheadAttention extends Module {
  in_proj_weight: Parameter;
  in_proj_bias: Parameter;
  out_proj: Linear;
  constructor(private readonly C: number, private readonly numHeads: number) {
    super();
    this.in_proj_weight = parameter([3 * C, C], normalInit(0.02));
    this.in_proj_bias = parameter([3 * C], zerosInit);
    this.out_proj = new Linear(C, C);
  }
  /** query [B, Q, C], keyValue [B, N, C] → [B, Q, C] */
  forward(query: Tensor, keyValue: Tensor): Tensor {
    const [B, Q] = query.shape as [number, number, number];
    const N = keyValue.shape[1]!, C = this.C, H = this.numHeads, D = C / H;
    const [wq, wk, wv] = split(this.in_proj_weight, C, 0) as [Tensor, Tensor, Tensor];
    const [bq, bk, bv] = split(this.in_proj_bias, C, 0) as [Tensor, Tensor, Tensor];
    const heads = (t: Tensor, T: number): Tensor => t.reshape([B, T, H, D]).transpose(1, 2); // [B, H, T, D]
    const y = scaledDotProductAttention(heads(linear(query, wq, bq), Q), heads(linear(keyValue, wk, bk), N), heads(linear(keyValue, wv, bv), N));
    return this.out_proj.forward(y.transpose(1, 2).reshape([B, Q, C]));
  }
}

class PoolingHead extends Module {
  probe: Parameter;
  attention: MultiheadAttention;
  layernorm: LayerNorm;
  mlp: VitMlp;
  constructor(cfg: VitConfig) {
    super();
    const C = cfg.hiddenSize;
    this.probe = parameter([1, 1, C], normalInit(0.02));
    this.attention = new MultiheadAttention(C, cfg.numHeads);
    this.layernorm = new LayerNorm(C, cfg.layerNormEps);
    this.mlp = new VitMlp(C, cfg.intermediateSize, activation(cfg.hiddenAct, 'vision_config.hidden_act'));
  }
  /** [B, N, C] → [B, C] */
  forward(x: Tensor): Tensor {
    const B = x.shape[0]!, C = x.shape[2]!;
    const h = this.attention.forward(this.probe.expand([B, 1, C]), x); // [B, 1, C]
    const out = h.add(this.mlp.forward(this.layernorm.forward(h)));
    return slice(out, 1, 0, 1).squeeze(1);
  }
}

export class SiglipVisionTower extends Module implements VisionTower {
  embeddings: SiglipEmbeddings;
  encoder: VitEncoder;
  post_layernorm: LayerNorm;
  head: PoolingHead;
  constructor(readonly cfg: VitConfig) {
    super();
    this.embeddings = new SiglipEmbeddings(cfg);
    this.encoder = new VitEncoder(cfg);
    this.post_layernorm = new LayerNorm(cfg.hiddenSize, cfg.layerNormEps);
    this.head = new PoolingHead(cfg);
  }
  forward(pixels: Tensor, numLayers = this.cfg.numLayers): VisionOutput {
    const hiddenStates = this.encoder.forward(this.embeddings.forward(pixels), numLayers);
    if (numLayers < this.cfg.numLayers) return { hiddenStates, lastHiddenState: null, poolerOutput: null };
    const last = this.post_layernorm.forward(hiddenStates[hiddenStates.length - 1]!); // [B, N, C]
    return { hiddenStates, lastHiddenState: last, poolerOutput: this.head.forward(last) };
  }
}
