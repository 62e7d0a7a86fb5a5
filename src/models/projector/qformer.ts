// The Q-Former (Li et al. 2023, "BLIP-2"; transformers `Blip2QFormerModel` on query tokens only): a BERT-style
// post-LN encoder over a fixed set of learned queries. Every layer self-attends over the queries; layers
// i % cross_attention_frequency == 0 also cross-attend to the image features; then a query FFN
// (`intermediate_query` → `output_query`). Each sub-block is `LayerNorm(x + dense(block(x)))`. The queries are
// LayerNorm-ed (`layernorm`) before the first layer; the output has no final norm.
//
// `QFormerProjector` packages queries + Q-Former + an output Linear as a general modality projector: the
// [B, N, E] features of any encoder become a fixed number of [B, Q, Dout] tokens for a decoder.
//
// Shapes: B batch, Q queries, N encoder tokens, C hidden, E encoder_hidden_size, H heads, D head dim, I intermediate.

import { LayerNorm, Linear } from '../../nn/layers.ts';
import { Module, parameter, type Parameter } from '../../nn/module.ts';
import { normalInit } from '../../nn/init.ts';
import { scaledDotProductAttention, type Tensor } from '../../tensor/index.ts';

export interface QFormerConfig {
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly intermediateSize: number;
  readonly encoderHiddenSize: number;
  readonly crossAttentionFrequency: number;
  readonly layerNormEps: number;
}

function field(cfg: Record<string, unknown>, key: string, where: string): number {
  const v = cfg[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** Parses BLIP-2's `qformer_config`; `where` names the source in errors. */
export function parseQFormerConfig(cfg: Record<string, unknown>, where = 'qformer_config'): QFormerConfig {
  const act = cfg.hidden_act ?? 'gelu';
  if (act !== 'gelu') throw new Error(`${where}: hidden_act "${String(act)}" is not supported (only "gelu")`);
  if (cfg.use_qformer_text_input === true) throw new Error(`${where}: use_qformer_text_input (InstructBLIP-style text queries) is not supported`);
  const c = Object.freeze({
    hiddenSize: field(cfg, 'hidden_size', where),
    numLayers: field(cfg, 'num_hidden_layers', where),
    numHeads: field(cfg, 'num_attention_heads', where),
    intermediateSize: field(cfg, 'intermediate_size', where),
    encoderHiddenSize: field(cfg, 'encoder_hidden_size', where),
    crossAttentionFrequency: field(cfg, 'cross_attention_frequency', where),
    layerNormEps: typeof cfg.layer_norm_eps === 'number' ? cfg.layer_norm_eps : 1e-12,
  });
  if (c.hiddenSize % c.numHeads !== 0) throw new Error(`${where}: hidden_size ${c.hiddenSize} is not divisible by ${c.numHeads} heads`);
  if (c.crossAttentionFrequency < 1) throw new Error(`${where}: cross_attention_frequency must be ≥ 1`);
  return c;
}

/** BERT self/cross attention: query from x, key/value from `context` (width kvDim), scores / sqrt(D). */
export class QFormerAttentionCore extends Module {
  query: Linear;
  key: Linear;
  value: Linear;
  constructor(readonly dim: number, readonly heads: number, kvDim: number) {
    super();
    this.query = new Linear(dim, dim);
    this.key = new Linear(kvDim, dim);
    this.value = new Linear(kvDim, dim);
  }
  /** x [B, Q, C], context [B, N, kvDim], mask bool [B, 1, 1, N] (true = attend) → [B, Q, C]. */
  forward(x: Tensor, context: Tensor, mask: Tensor | null): Tensor {
    const [B, Q] = x.shape as [number, number, number];
    const N = context.shape[1]!, H = this.heads, D = this.dim / H;
    const q = this.query.forward(x).view(B, Q, H, D).transpose(1, 2); // [B, H, Q, D]
    const k = this.key.forward(context).view(B, N, H, D).transpose(1, 2); // [B, H, N, D]
    const v = this.value.forward(context).view(B, N, H, D).transpose(1, 2);
    const o = scaledDotProductAttention(q, k, v, { mask, scale: D ** -0.5 }); // [B, H, Q, D]
    return o.transpose(1, 2).reshape([B, Q, this.dim]);
  }
}

/** `dense` then `LayerNorm(h + residual)`: BERT's SelfOutput / Output. */
export class QFormerOutput extends Module {
  dense: Linear;
  layerNorm: LayerNorm;
  constructor(inDim: number, dim: number, eps: number) {
    super();
    this.dense = new Linear(inDim, dim);
    this.layerNorm = new LayerNorm(dim, eps);
  }
  forward(h: Tensor, residual: Tensor): Tensor {
    return this.layerNorm.forward(this.dense.forward(h).add(residual));
  }
}

export class QFormerAttention extends Module {
  attention: QFormerAttentionCore;
  output: QFormerOutput;
  constructor(c: QFormerConfig, kvDim: number) {
    super();
    this.attention = new QFormerAttentionCore(c.hiddenSize, c.numHeads, kvDim);
    this.output = new QFormerOutput(c.hiddenSize, c.hiddenSize, c.layerNormEps);
  }
  forward(x: Tensor, context: Tensor, mask: Tensor | null): Tensor {
    return this.output.forward(this.attention.forward(x, context, mask), x);
  }
}

export class QFormerIntermediate extends Module {
  dense: Linear;
  constructor(c: QFormerConfig) {
    super();
    this.dense = new Linear(c.hiddenSize, c.intermediateSize);
  }
  forward(x: Tensor): Tensor {
    return this.dense.forward(x).gelu(); // [B, Q, I]
  }
}

export class QFormerLayer extends Module {
  attention: QFormerAttention;
  crossattention: QFormerAttention | null;
  intermediateQuery: QFormerIntermediate;
  outputQuery: QFormerOutput;
  constructor(c: QFormerConfig, index: number) {
    super();
    this.attention = new QFormerAttention(c, c.hiddenSize);
    this.crossattention = index % c.crossAttentionFrequency === 0 ? new QFormerAttention(c, c.encoderHiddenSize) : null;
    this.intermediateQuery = new QFormerIntermediate(c);
    this.outputQuery = new QFormerOutput(c.intermediateSize, c.hiddenSize, c.layerNormEps);
  }
  forward(x: Tensor, features: Tensor, featureMask: Tensor | null): Tensor {
    let h = this.attention.forward(x, x, null); // [B, Q, C]
    if (this.crossattention) h = this.crossattention.forward(h, features, featureMask);
    return this.outputQuery.forward(this.intermediateQuery.forward(h), h);
  }
}

export class QFormerEncoder extends Module {
  layer: QFormerLayer[];
  constructor(c: QFormerConfig) {
    super();
    this.layer = Array.from({ length: c.numLayers }, (_, i) => new QFormerLayer(c, i));
  }
}

/** Blip2QFormerModel (query path). Runtime names are the checkpoint's `qformer.*` keys in camelCase. */
export class QFormer extends Module {
  layernorm: LayerNorm;
  encoder: QFormerEncoder;
  constructor(readonly config: QFormerConfig) {
    super();
    this.layernorm = new LayerNorm(config.hiddenSize, config.layerNormEps);
    this.encoder = new QFormerEncoder(config);
  }

  /**
   * queries [B, Q, C] (the learned tokens, expanded), features [B, N, E]; featureMask bool [B, N] (1 = real
   * feature) for padded inputs, or null → [B, Q, C].
   */
  forward(queries: Tensor, features: Tensor, featureMask: Tensor | null = null): Tensor {
    const c = this.config;
    if (queries.ndim !== 3 || queries.shape[2] !== c.hiddenSize) throw new Error(`qformer: queries must be [batch, queries, ${c.hiddenSize}], got [${queries.shape.join(', ')}]`);
    if (features.ndim !== 3 || features.shape[2] !== c.encoderHiddenSize || features.shape[0] !== queries.shape[0]) {
      throw new Error(`qformer: features must be [${queries.shape[0]}, tokens, ${c.encoderHiddenSize}], got [${features.shape.join(', ')}]`);
    }
    const mask = featureMask ? featureMask.reshape([features.shape[0]!, 1, 1, features.shape[1]!]) : null; // [B, 1, 1, N]
    let h = this.layernorm.forward(queries);
    for (const layer of this.encoder.layer) h = layer.forward(h, features, mask);
    return h;
  }
}

/** Runtime name under a QFormer → transformers key (BERT keeps its capitalised `LayerNorm`). */
export function qformerKey(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase().replace(/\.layer_norm\./g, '.LayerNorm.');
}

export interface QFormerProjectorConfig {
  readonly qformer: QFormerConfig;
  readonly numQueries: number;
  /** Width of the decoder's token embeddings. */
  readonly outDim: number;
}

/** Learned queries → Q-Former over encoder features → Linear: [B, N, E] → [B, Q, outDim]. */
export class QFormerProjector extends Module {
  queryTokens: Parameter;
  qformer: QFormer;
  projection: Linear;
  constructor(readonly config: QFormerProjectorConfig) {
    super();
    this.queryTokens = parameter([1, config.numQueries, config.qformer.hiddenSize], normalInit(0.02));
    this.qformer = new QFormer(config.qformer);
    this.projection = new Linear(config.qformer.hiddenSize, config.outDim);
  }
  forward(features: Tensor, featureMask: Tensor | null = null): Tensor {
    const B = features.shape[0]!;
    const queries = this.queryTokens.expand([B, this.config.numQueries, this.config.qformer.hiddenSize]); // [B, Q, C]
    return this.projection.forward(this.qformer.forward(queries, features, featureMask)); // [B, Q, outDim]
  }
}
