// OPT decoder (Zhang et al. 2022, "OPT: Open Pre-trained Transformer Language Models"; transformers `OPTDecoder`
// and `OPTForCausalLM`), the text model of BLIP-2. Token embeddings (optionally projected in from
// `word_embed_proj_dim`), learned positions whose ids come from the attention mask — cumsum(mask)·mask − 1,
// looked up with an offset of 2, so left padding shifts nothing — then layers that are pre-LN
// (`do_layer_norm_before`) or post-LN, ReLU MLPs, a final LayerNorm, an optional `project_out`, and a head
// tied to the token embeddings.
//
// Shapes: B batch, T tokens, C hidden_size, E word_embed_proj_dim, F ffn_dim, H heads, D head dim, V vocab.

import { Embedding, LayerNorm, Linear } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';
import { scaledDotProductAttention, tensor, type Tensor } from '../../tensor/index.ts';

export interface OptConfig {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly wordEmbedProjDim: number;
  readonly ffnDim: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly maxPositionEmbeddings: number;
  readonly doLayerNormBefore: boolean;
  readonly finalLayerNorm: boolean;
  readonly enableBias: boolean;
  readonly layerNormAffine: boolean;
  readonly activation: 'relu' | 'gelu';
  readonly padTokenId: number | null;
}

/** OPTLearnedPositionalEmbedding keeps two extra rows in front (a fairseq legacy). */
const positionOffset = 2;
/** torch.finfo(float32).min: HF's additive mask value; finite, so a fully masked (padding) row stays NaN-free. */
const maskValue = -3.4028234663852886e38;

function field(cfg: Record<string, unknown>, key: string, where: string): number {
  const v = cfg[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** Parses an OPT config.json object (or BLIP-2's `text_config`); `where` names the source in errors. */
export function parseOptConfig(cfg: Record<string, unknown>, where = 'opt config'): OptConfig {
  const act = cfg.activation_function ?? 'relu';
  if (act !== 'relu' && act !== 'gelu') throw new Error(`${where}: activation_function "${String(act)}" is not supported (relu, gelu)`);
  const hidden = field(cfg, 'hidden_size', where);
  const before = cfg.do_layer_norm_before !== false;
  const pad = cfg.pad_token_id;
  return Object.freeze({
    vocabSize: field(cfg, 'vocab_size', where),
    hiddenSize: hidden,
    wordEmbedProjDim: typeof cfg.word_embed_proj_dim === 'number' ? cfg.word_embed_proj_dim : hidden,
    ffnDim: field(cfg, 'ffn_dim', where),
    numLayers: field(cfg, 'num_hidden_layers', where),
    numHeads: field(cfg, 'num_attention_heads', where),
    maxPositionEmbeddings: field(cfg, 'max_position_embeddings', where),
    doLayerNormBefore: before,
    finalLayerNorm: before && cfg._remove_final_layer_norm !== true,
    enableBias: cfg.enable_bias !== false,
    layerNormAffine: cfg.layer_norm_elementwise_affine !== false,
    activation: act,
    padTokenId: typeof pad === 'number' ? pad : null,
  });
}

/** Position ids from a [B, T] 0/1 mask: cumsum(mask)·mask − 1 (pads get −1, looked up as row 1). */
export function optPositionIds(mask: Tensor): number[] {
  const [B, T] = mask.shape as [number, number];
  const m = mask.toFloat64(), out: number[] = [];
  for (let b = 0; b < B; b++) {
    let run = 0;
    for (let t = 0; t < T; t++) { run += m[b * T + t]!; out.push(run * m[b * T + t]! - 1); }
  }
  return out;
}

/** Additive [B, 1, T, T] mask: causal, and keys where the attention mask is 0 hidden. */
export function causalPaddingMask(mask: Tensor): Tensor {
  const [B, T] = mask.shape as [number, number];
  const m = mask.toFloat64(), out = new Float32Array(B * T * T);
  for (let b = 0; b < B; b++) for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) {
    out[(b * T + i) * T + j] = j <= i && m[b * T + j] !== 0 ? 0 : maskValue;
  }
  return tensor(out, { shape: [B, 1, T, T] });
}

export class OptAttention extends Module {
  kProj: Linear;
  vProj: Linear;
  qProj: Linear;
  outProj: Linear;
  constructor(readonly dim: number, readonly heads: number, bias: boolean) {
    super();
    if (dim % heads !== 0) throw new Error(`opt attention: hidden_size ${dim} is not divisible by ${heads} heads`);
    this.kProj = new Linear(dim, dim, { bias });
    this.vProj = new Linear(dim, dim, { bias });
    this.qProj = new Linear(dim, dim, { bias });
    this.outProj = new Linear(dim, dim, { bias });
  }
  /** x [B, T, C]; mask additive [B, 1, T, T]. */
  forward(x: Tensor, mask: Tensor): Tensor {
    const [B, T] = x.shape as [number, number, number];
    const H = this.heads, D = this.dim / H;
    const q = this.qProj.forward(x).view(B, T, H, D).transpose(1, 2); // [B, H, T, D]
    const k = this.kProj.forward(x).view(B, T, H, D).transpose(1, 2);
    const v = this.vProj.forward(x).view(B, T, H, D).transpose(1, 2);
    const o = scaledDotProductAttention(q, k, v, { mask, scale: D ** -0.5 }); // [B, H, T, D]
    return this.outProj.forward(o.transpose(1, 2).reshape([B, T, this.dim])); // [B, T, C]
  }
}

export class OptDecoderLayer extends Module {
  selfAttn: OptAttention;
  selfAttnLayerNorm: LayerNorm;
  fc1: Linear;
  fc2: Linear;
  finalLayerNorm: LayerNorm;
  constructor(readonly config: OptConfig) {
    super();
    const c = config;
    this.selfAttn = new OptAttention(c.hiddenSize, c.numHeads, c.enableBias);
    this.selfAttnLayerNorm = new LayerNorm(c.hiddenSize, 1e-5, c.layerNormAffine);
    this.fc1 = new Linear(c.hiddenSize, c.ffnDim, { bias: c.enableBias });
    this.fc2 = new Linear(c.ffnDim, c.hiddenSize, { bias: c.enableBias });
    this.finalLayerNorm = new LayerNorm(c.hiddenSize, 1e-5, c.layerNormAffine);
  }
  forward(x: Tensor, mask: Tensor): Tensor {
    const pre = this.config.doLayerNormBefore;
    let h = x.add(this.selfAttn.forward(pre ? this.selfAttnLayerNorm.forward(x) : x, mask)); // [B, T, C]
    if (!pre) h = this.selfAttnLayerNorm.forward(h);
    const a = this.fc1.forward(pre ? this.finalLayerNorm.forward(h) : h); // [B, T, F]
    h = h.add(this.fc2.forward(this.config.activation === 'relu' ? a.relu() : a.gelu()));
    return pre ? h : this.finalLayerNorm.forward(h);
  }
}

/** OPTDecoder: runtime names mirror the checkpoint's `model.decoder.*` keys in camelCase. */
export class OptDecoder extends Module {
  embedTokens: Embedding;
  embedPositions: Embedding;
  projectIn: Linear | null;
  projectOut: Linear | null;
  layers: OptDecoderLayer[];
  finalLayerNorm: LayerNorm | null;
  constructor(readonly config: OptConfig) {
    super();
    const c = config;
    this.embedTokens = new Embedding(c.vocabSize, c.wordEmbedProjDim, c.padTokenId);
    this.embedPositions = new Embedding(c.maxPositionEmbeddings + positionOffset, c.hiddenSize);
    const projected = c.wordEmbedProjDim !== c.hiddenSize;
    this.projectIn = projected ? new Linear(c.wordEmbedProjDim, c.hiddenSize, { bias: false }) : null;
    this.projectOut = projected ? new Linear(c.hiddenSize, c.wordEmbedProjDim, { bias: false }) : null;
    this.layers = Array.from({ length: c.numLayers }, () => new OptDecoderLayer(c));
    this.finalLayerNorm = c.finalLayerNorm ? new LayerNorm(c.hiddenSize, 1e-5, c.layerNormAffine) : null;
  }

  /** ids [B, T] → [B, T, E]. */
  embed(ids: Tensor): Tensor {
    return this.embedTokens.forward(ids);
  }

  /** inputsEmbeds [B, T, E], attentionMask [B, T] (all ones when null) → hidden [B, T, E]. */
  forward(inputsEmbeds: Tensor, attentionMask: Tensor | null = null): Tensor {
    const [B, T] = inputsEmbeds.shape as [number, number, number];
    const mask = attentionMask ?? tensor(new Float32Array(B * T).fill(1), { shape: [B, T] });
    if (mask.shape[0] !== B || mask.shape[1] !== T) throw new Error(`opt: attention_mask [${mask.shape.join(', ')}] does not fit inputs [${B}, ${T}]`);
    const pos = optPositionIds(mask).map((p) => p + positionOffset);
    const maxPos = Math.max(...pos);
    if (maxPos >= this.embedPositions.numEmbeddings) {
      throw new Error(`opt: ${maxPos - positionOffset + 1} positions exceed max_position_embeddings ${this.config.maxPositionEmbeddings}`);
    }
    const posIds = tensor(Int32Array.from(pos), { shape: [B, T], dtype: 'int32' });
    let h = this.projectIn ? this.projectIn.forward(inputsEmbeds) : inputsEmbeds; // [B, T, C]
    h = h.add(this.embedPositions.forward(posIds));
    const additive = causalPaddingMask(mask);
    for (const layer of this.layers) h = layer.forward(h, additive);
    if (this.finalLayerNorm) h = this.finalLayerNorm.forward(h);
    return this.projectOut ? this.projectOut.forward(h) : h; // [B, T, E]
  }

  /** The tied lm_head: hidden [B, T, E] → logits [B, T, V]. */
  logits(hidden: Tensor): Tensor {
    return hidden.matmul(this.embedTokens.weight.T);
  }
}
