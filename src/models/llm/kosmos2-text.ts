// The Kosmos-2 text decoder (Peng et al. 2023; transformers `Kosmos2TextForCausalLM`): a pre-LN decoder whose
// input is the token embeddings with image rows written in where `image_embeds_position_mask` is 1, all of it
// scaled by sqrt(C), plus a fixed sinusoidal position table (fairseq style, row pad_token_id zero). A layer is
//   h += out_proj(inner_attn_ln(attn(self_attn_layer_norm(h))))
//   h += fc2(ffn_layernorm(gelu(fc1(final_layer_norm(h)))))
// then a final `layer_norm` and a head tied to embed_tokens (fixtures/hf README item 18). Field names are the
// HF module names, so `model.layers.0.self_attn.q_proj.weight` maps onto `text_model.model.*` keys directly.
//
// Shapes: B batch, T new tokens, S cached + new tokens, C hidden, H heads, D head dim, V vocab.

import { Embedding, LayerNorm, Linear } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';
import { indexSelect, linear, scaledDotProductAttention, tensor, where, type Tensor } from '../../tensor/index.ts';
import { ConfigReader, type Json } from '../../io/hf/config.ts';
import { activation, type Activation } from '../../io/hf/activations.ts';
import { appendKV, emptyCache, type KVCache, type LayerKV } from './cache.ts';

export interface Kosmos2TextConfig {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly ffnSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly layerNormEps: number;
  readonly activation: string;
  readonly scaleEmbedding: boolean;
  readonly maxPositions: number;
  readonly padTokenId: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
}

export function parseKosmos2TextConfig(json: Json, where = 'config.json:text_config'): Kosmos2TextConfig {
  const c = new ConfigReader(json, where);
  const hiddenSize = c.int('embed_dim'), numHeads = c.int('attention_heads');
  if (hiddenSize % numHeads) throw new Error(`${where}: embed_dim ${hiddenSize} is not divisible by attention_heads ${numHeads}`);
  return Object.freeze({
    vocabSize: c.int('vocab_size'),
    hiddenSize, numHeads,
    ffnSize: c.int('ffn_dim'),
    numLayers: c.int('layers'),
    layerNormEps: c.num('layer_norm_eps', 1e-5),
    activation: c.str('activation_function', 'gelu'),
    scaleEmbedding: c.bool('scale_embedding', true),
    maxPositions: c.int('max_position_embeddings', 2048),
    padTokenId: c.int('pad_token_id', 1),
    bosTokenId: c.optInt('bos_token_id'),
    eosTokenId: c.optInt('eos_token_id'),
  });
}

/**
 * Rows [0, rows) of the sinusoidal table: row p = cat(sin(p·f), cos(p·f)), f_k = exp(−k·ln(10000)/(C/2 − 1)), row
 * `padId` zero, an odd C padded with a zero column. Each step is rounded to float32 as torch computes it.
 */
export function sinusoidalTable(rows: number, C: number, padId: number | null): Float32Array {
  const half = Math.floor(C / 2), step = Math.fround(-Math.log(10000) / (half - 1));
  const freq = Array.from({ length: half }, (_, k) => Math.fround(Math.exp(Math.fround(k * step))));
  const out = new Float32Array(rows * C);
  for (let p = 0; p < rows; p++) {
    if (p === padId) continue;
    for (let k = 0; k < half; k++) {
      const angle = Math.fround(p * freq[k]!);
      out[p * C + k] = Math.sin(angle);
      out[p * C + half + k] = Math.cos(angle);
    }
  }
  return out;
}

/** HF `create_position_ids_from_input_ids`: (cumsum(ids ≠ pad) + pastLength)·(ids ≠ pad) + pad, per row. */
export function kosmos2PositionIds(ids: readonly number[], B: number, T: number, pad: number, pastLength: number): number[][] {
  return Array.from({ length: B }, (_, b) => {
    let seen = 0;
    return Array.from({ length: T }, (_, t) => {
      if (ids[b * T + t] === pad) return pad;
      seen++;
      return seen + pastLength + pad;
    });
  });
}

class TextAttention extends Module {
  k_proj: Linear; v_proj: Linear; q_proj: Linear; out_proj: Linear;
  inner_attn_ln: LayerNorm | null;
  constructor(C: number, private readonly numHeads: number, innerLn: number | null) {
    super();
    this.k_proj = new Linear(C, C);
    this.v_proj = new Linear(C, C);
    this.q_proj = new Linear(C, C);
    this.out_proj = new Linear(C, C);
    this.inner_attn_ln = innerLn === null ? null : new LayerNorm(C, innerLn);
  }
  /** query [B, T, C] over keyValue [B, N, C] (self-attention when they are the same tensor). */
  forward(query: Tensor, keyValue: Tensor, opts: { causal: boolean; mask: Tensor | null; past: LayerKV | null }): { out: Tensor; kv: LayerKV } {
    const [B, T, C] = query.shape as [number, number, number];
    const N = keyValue.shape[1]!, H = this.numHeads, D = C / H;
    const heads = (t: Tensor, L: number): Tensor => t.reshape([B, L, H, D]).transpose(1, 2); // [B, H, L, D]
    const kv = appendKV(opts.past, heads(this.k_proj.forward(keyValue), N), heads(this.v_proj.forward(keyValue), N)); // [B, H, S, D]
    const y = scaledDotProductAttention(heads(this.q_proj.forward(query), T), kv.k, kv.v, { causal: opts.causal, mask: opts.mask });
    let merged = y.transpose(1, 2).reshape([B, T, C]); // [B, T, C]
    if (this.inner_attn_ln) merged = this.inner_attn_ln.forward(merged);
    return { out: this.out_proj.forward(merged), kv };
  }
}
export { TextAttention as Kosmos2Attention };

class TextFfn extends Module {
  fc1: Linear; fc2: Linear; ffn_layernorm: LayerNorm;
  constructor(cfg: Kosmos2TextConfig, private readonly act: Activation) {
    super();
    this.fc1 = new Linear(cfg.hiddenSize, cfg.ffnSize);
    this.fc2 = new Linear(cfg.ffnSize, cfg.hiddenSize);
    this.ffn_layernorm = new LayerNorm(cfg.ffnSize, cfg.layerNormEps);
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.ffn_layernorm.forward(this.act(this.fc1.forward(x))));
  }
}

class TextLayer extends Module {
  self_attn: TextAttention; self_attn_layer_norm: LayerNorm; ffn: TextFfn; final_layer_norm: LayerNorm;
  constructor(cfg: Kosmos2TextConfig, act: Activation) {
    super();
    this.self_attn = new TextAttention(cfg.hiddenSize, cfg.numHeads, cfg.layerNormEps);
    this.self_attn_layer_norm = new LayerNorm(cfg.hiddenSize, cfg.layerNormEps);
    this.ffn = new TextFfn(cfg, act);
    this.final_layer_norm = new LayerNorm(cfg.hiddenSize, cfg.layerNormEps);
  }
  forward(x: Tensor, mask: Tensor | null, past: LayerKV | null): { out: Tensor; kv: LayerKV } {
    const n = this.self_attn_layer_norm.forward(x);
    const a = this.self_attn.forward(n, n, { causal: true, mask, past });
    const h = x.add(a.out);
    return { out: h.add(this.ffn.forward(this.final_layer_norm.forward(h))), kv: a.kv };
  }
}

export interface Kosmos2TextInput {
  /** [B, T] */
  inputIds: Tensor;
  /** [B, Q, C] image rows, written (row-major) where `imageEmbedsPositionMask` is 1. */
  imageEmbeds?: Tensor | null;
  /** [B, T] */
  imageEmbedsPositionMask?: Tensor | null;
  /** [B, S] 1 attend, 0 padding, over cached + new positions. */
  attentionMask?: Tensor | null;
  cache?: KVCache | null;
}

export interface Kosmos2TextOutput {
  /** n_layers + 1 entries: scaled embeddings + positions, each layer's output, the last after `layer_norm`. */
  hiddenStates: Tensor[];
  /** [B, T] the position ids used. */
  positionIds: number[][];
  logits: Tensor;
  cache: KVCache;
}

/** `Kosmos2TextTransformer` (the `model.*` part). */
export class Kosmos2TextModel extends Module {
  embed_tokens: Embedding;
  layers: TextLayer[];
  layer_norm: LayerNorm;
  constructor(readonly cfg: Kosmos2TextConfig) {
    super();
    const act = activation(cfg.activation, 'text_config.activation_function');
    this.embed_tokens = new Embedding(cfg.vocabSize, cfg.hiddenSize, cfg.padTokenId);
    this.layers = Array.from({ length: cfg.numLayers }, () => new TextLayer(cfg, act));
    this.layer_norm = new LayerNorm(cfg.hiddenSize, cfg.layerNormEps);
  }

  /** Token embeddings with the image rows written in, before scaling: [B, T, C]. */
  embed(ids: Tensor, imageEmbeds: Tensor | null, positionMask: Tensor | null): Tensor {
    const [B, T] = ids.shape as [number, number];
    const C = this.cfg.hiddenSize;
    const x = this.embed_tokens.forward(ids); // [B, T, C]
    if (!imageEmbeds || !positionMask) return x;
    if (positionMask.shape.join() !== ids.shape.join()) {
      throw new Error(`kosmos-2: image_embeds_position_mask [${positionMask.shape.join(', ')}] does not match input_ids [${B}, ${T}]`);
    }
    const m = positionMask.toList(), rows = imageEmbeds.reshape([-1, C]); // [B·Q, C]
    const count = m.filter((v) => v !== 0).length;
    if (count !== rows.shape[0]) {
      throw new Error(`kosmos-2: image_embeds_position_mask marks ${count} positions but image_embeds has ${rows.shape[0]} rows`);
    }
    const pick = new Int32Array(B * T), isImage = new Uint8Array(B * T);
    let k = 0;
    m.forEach((v, i) => { if (v !== 0) { pick[i] = k++; isImage[i] = 1; } });
    const picked = indexSelect(rows, 0, tensor(pick, { shape: [B * T], dtype: 'int32' })).reshape([B, T, C]);
    return where(tensor(isImage, { shape: [B, T, 1], dtype: 'bool' }), picked, x);
  }

  forward(input: Kosmos2TextInput): Kosmos2TextOutput {
    const ids = input.inputIds;
    if (ids.ndim !== 2) throw new Error(`kosmos-2 text: input_ids must be [B, T], got [${ids.shape.join(', ')}]`);
    const [B, T] = ids.shape as [number, number];
    const cfg = this.cfg, C = cfg.hiddenSize;
    const cache = input.cache ?? emptyCache(cfg.numLayers);
    const positions = kosmos2PositionIds(ids.toList(), B, T, cfg.padTokenId, cache.length);
    // HF grows its table past max_position_embeddings on demand, so any position is valid.
    const maxPos = Math.max(...positions.flat());
    const table = sinusoidalTable(maxPos + 1, C, cfg.padTokenId);
    const pos = new Float32Array(B * T * C);
    positions.flat().forEach((p, i) => pos.set(table.subarray(p * C, p * C + C), i * C));
    const scale = cfg.scaleEmbedding ? Math.sqrt(C) : 1;
    const x0 = this.embed(ids, input.imageEmbeds ?? null, input.imageEmbedsPositionMask ?? null)
      .mul(scale).add(tensor(pos, { shape: [B, T, C] })); // [B, T, C]
    const mask = keyMask(input.attentionMask ?? null, B, cache.length + T);
    const hiddenStates = [x0];
    const layers: LayerKV[] = [];
    let x = x0;
    this.layers.forEach((layer, i) => {
      const r = layer.forward(x, mask, cache.layers[i] ?? null);
      x = r.out;
      layers.push(r.kv);
      if (i < this.layers.length - 1) hiddenStates.push(x);
    });
    const last = this.layer_norm.forward(x);
    hiddenStates.push(last);
    return {
      hiddenStates, positionIds: positions,
      logits: linear(last, this.embed_tokens.weight), // tied head: [B, T, V]
      cache: Object.freeze({ layers: Object.freeze(layers), length: cache.length + T }),
    };
  }
}

/** Additive key mask [B, 1, 1, S] (−inf on padding), or null when nothing is padded. */
function keyMask(mask: Tensor | null, B: number, S: number): Tensor | null {
  if (!mask) return null;
  if (mask.ndim !== 2 || mask.shape[0] !== B || mask.shape[1] !== S) {
    throw new Error(`kosmos-2 text: attention_mask [${mask.shape.join(', ')}] should be [${B}, ${S}] (cached + new positions)`);
  }
  const v = mask.toList();
  if (v.every((m) => m !== 0)) return null;
  return tensor(Float32Array.from(v, (m) => (m === 0 ? -Infinity : 0)), { shape: [B, 1, 1, S] });
}

