// The Mllama (Llama 3.2 Vision) text model (transformers `MllamaForCausalLM`; fixtures/hf README item 20): a Llama
// decoder (RMSNorm, SwiGLU, llama3 RoPE, grouped KV heads) in which the layers listed in `cross_attention_layers`
// are cross-attention blocks instead:
//   h += tanh(cross_attn_attn_gate)·cross_attn(input_layernorm(h), s)
//   h += tanh(cross_attn_mlp_gate)·rowMask·mlp(post_attention_layernorm(h))
// with q = q_norm(q_proj(x)), k = k_norm(k_proj(s)) (RMSNorm over head_dim, no RoPE), v = v_proj(s), where s are the
// projected vision tokens. A text row whose cross-attention mask is all 0 gets no mask at all (HF multiplies the
// additive mask by the row mask) and only its MLP branch is zeroed. Without vision states (and none cached) the
// cross-attention layers are skipped. `embed_tokens` has vocab_size + 8 rows (<|image|> = vocab_size is embedded
// like any token); lm_head has vocab_size rows.
//
// Shapes: B batch, T new tokens, S cached + new tokens, K vision tokens, C hidden, H heads, Hkv KV heads, D head dim.

import { Embedding, Linear, RMSNorm } from '../../nn/layers.ts';
import { Module, parameter, type Parameter } from '../../nn/module.ts';
import { normalInit } from '../../nn/init.ts';
import { applyRope, scaledDotProductAttention, tensor, type Tensor } from '../../tensor/index.ts';
import { ConfigReader, type Json } from '../../io/hf/config.ts';
import { activation, type Activation } from '../../io/hf/activations.ts';
import { appendKV, emptyCache, type KVCache, type LayerKV } from './cache.ts';
import { parseLlmConfig, type LlmConfig } from './config.ts';
import { ropeTables } from './rope.ts';

export interface MllamaTextConfig extends LlmConfig {
  readonly crossAttentionLayers: readonly number[];
}

export function parseMllamaTextConfig(json: Json, where = 'config.json:text_config'): MllamaTextConfig {
  const base = parseLlmConfig({ ...json, model_type: 'llama' }, where);
  const c = new ConfigReader(json, where);
  const raw = c.obj.cross_attention_layers ?? [];
  if (!Array.isArray(raw) || raw.some((i) => !Number.isInteger(i) || i < 0 || i >= base.numLayers)) {
    throw new Error(`${where}: cross_attention_layers ${JSON.stringify(raw)} must be layer indices in [0, ${base.numLayers})`);
  }
  return Object.freeze({ ...base, crossAttentionLayers: raw as number[] });
}

class Mlp extends Module {
  gate_proj: Linear; up_proj: Linear; down_proj: Linear;
  constructor(cfg: LlmConfig, private readonly act: Activation) {
    super();
    this.gate_proj = new Linear(cfg.hiddenSize, cfg.intermediateSize, { bias: false });
    this.up_proj = new Linear(cfg.hiddenSize, cfg.intermediateSize, { bias: false });
    this.down_proj = new Linear(cfg.intermediateSize, cfg.hiddenSize, { bias: false });
  }
  forward(x: Tensor): Tensor { return this.down_proj.forward(this.act(this.gate_proj.forward(x)).mul(this.up_proj.forward(x))); }
}

class Projections extends Module {
  q_proj: Linear; k_proj: Linear; v_proj: Linear; o_proj: Linear;
  constructor(protected readonly cfg: LlmConfig) {
    super();
    const { hiddenSize: C, numHeads: H, numKvHeads: Hkv, headDim: D } = cfg;
    this.q_proj = new Linear(C, H * D, { bias: false });
    this.k_proj = new Linear(C, Hkv * D, { bias: false });
    this.v_proj = new Linear(C, Hkv * D, { bias: false });
    this.o_proj = new Linear(H * D, C, { bias: false });
  }
  /** [B, L, heads·D] → [B, heads, L, D] */
  protected heads(t: Tensor, n: number): Tensor {
    const [B, L] = t.shape as [number, number];
    return t.reshape([B, L, n, this.cfg.headDim]).transpose(1, 2);
  }
  protected merge(y: Tensor): Tensor {
    const [B, , T] = y.shape as [number, number, number];
    return this.o_proj.forward(y.transpose(1, 2).reshape([B, T, -1])); // [B, T, C]
  }
}

class SelfAttention extends Projections {
  forward(x: Tensor, rope: { cos: Tensor; sin: Tensor }, mask: Tensor | null, past: LayerKV | null): { out: Tensor; kv: LayerKV } {
    const { numHeads: H, numKvHeads: Hkv } = this.cfg;
    const q = applyRope(this.heads(this.q_proj.forward(x), H), rope.cos, rope.sin); // [B, H, T, D]
    const kv = appendKV(past, applyRope(this.heads(this.k_proj.forward(x), Hkv), rope.cos, rope.sin), this.heads(this.v_proj.forward(x), Hkv));
    return { out: this.merge(scaledDotProductAttention(q, kv.k, kv.v, { causal: true, mask })), kv };
  }
}

class CrossAttention extends Projections {
  q_norm: RMSNorm; k_norm: RMSNorm;
  constructor(cfg: LlmConfig) {
    super(cfg);
    this.q_norm = new RMSNorm(cfg.headDim, cfg.rmsNormEps);
    this.k_norm = new RMSNorm(cfg.headDim, cfg.rmsNormEps);
  }
  /** Keys and values of the vision states [B, K, C] (computed once, then cached). */
  keyValues(states: Tensor): LayerKV {
    const Hkv = this.cfg.numKvHeads;
    return { k: this.k_norm.forward(this.heads(this.k_proj.forward(states), Hkv)), v: this.heads(this.v_proj.forward(states), Hkv) };
  }
  forward(x: Tensor, kv: LayerKV, mask: Tensor | null): Tensor {
    const q = this.q_norm.forward(this.heads(this.q_proj.forward(x), this.cfg.numHeads)); // [B, H, T, D]
    return this.merge(scaledDotProductAttention(q, kv.k, kv.v, { mask }));
  }
}

class SelfAttentionLayer extends Module {
  self_attn: SelfAttention; mlp: Mlp; input_layernorm: RMSNorm; post_attention_layernorm: RMSNorm;
  constructor(cfg: LlmConfig, act: Activation) {
    super();
    this.self_attn = new SelfAttention(cfg);
    this.mlp = new Mlp(cfg, act);
    this.input_layernorm = new RMSNorm(cfg.hiddenSize, cfg.rmsNormEps);
    this.post_attention_layernorm = new RMSNorm(cfg.hiddenSize, cfg.rmsNormEps);
  }
  forward(x: Tensor, rope: { cos: Tensor; sin: Tensor }, mask: Tensor | null, past: LayerKV | null): { out: Tensor; kv: LayerKV } {
    const a = this.self_attn.forward(this.input_layernorm.forward(x), rope, mask, past);
    const h = x.add(a.out);
    return { out: h.add(this.mlp.forward(this.post_attention_layernorm.forward(h))), kv: a.kv };
  }
}

class CrossAttentionLayer extends Module {
  cross_attn: CrossAttention; input_layernorm: RMSNorm; cross_attn_attn_gate: Parameter;
  mlp: Mlp; post_attention_layernorm: RMSNorm; cross_attn_mlp_gate: Parameter;
  constructor(cfg: LlmConfig, act: Activation) {
    super();
    this.cross_attn = new CrossAttention(cfg);
    this.input_layernorm = new RMSNorm(cfg.hiddenSize, cfg.rmsNormEps);
    this.cross_attn_attn_gate = parameter([1], normalInit(0.1));
    this.mlp = new Mlp(cfg, act);
    this.post_attention_layernorm = new RMSNorm(cfg.hiddenSize, cfg.rmsNormEps);
    this.cross_attn_mlp_gate = parameter([1], normalInit(0.1));
  }
  /** rowMask [B, T, 1]: 0 for text rows that see no image (null: every row sees one). */
  forward(x: Tensor, kv: LayerKV, mask: Tensor | null, rowMask: Tensor | null): Tensor {
    const a = this.cross_attn.forward(this.input_layernorm.forward(x), kv, mask);
    const h = x.add(a.mul(this.cross_attn_attn_gate.tanh()));
    let f = this.mlp.forward(this.post_attention_layernorm.forward(h));
    if (rowMask) f = f.mul(rowMask);
    return h.add(f.mul(this.cross_attn_mlp_gate.tanh()));
  }
}

export interface MllamaTextInput {
  inputIds: Tensor; // [B, T]
  /** [B, S] over cached + new positions. */
  attentionMask?: Tensor | null;
  /** [B, T]; absent: cache.length + arange(T). */
  positionIds?: Tensor | null;
  /** [B, K, C] projected vision tokens; null on cached steps (the cache holds their keys/values) or text-only. */
  crossAttentionStates?: Tensor | null;
  /** [B, T, images, tiles] for the new tokens. */
  crossAttentionMask?: Tensor | null;
  /** Vision tokens per tile (each mask entry covers that many keys). */
  tokensPerTile?: number;
  cache?: KVCache | null;
}

export interface MllamaTextOutput {
  /** Embeddings, each layer's output (skipped layers leave none), the last after the final norm. */
  hiddenStates: Tensor[];
  logits: Tensor; // [B, T, V]
  cache: KVCache;
}

export class MllamaTextModel extends Module {
  embed_tokens: Embedding;
  layers: (SelfAttentionLayer | CrossAttentionLayer)[];
  norm: RMSNorm;
  constructor(readonly cfg: MllamaTextConfig) {
    super();
    const act = activation(cfg.hiddenAct, 'text_config.hidden_act');
    this.embed_tokens = new Embedding(cfg.vocabSize + 8, cfg.hiddenSize, cfg.padTokenId);
    this.layers = Array.from({ length: cfg.numLayers }, (_, i) =>
      cfg.crossAttentionLayers.includes(i) ? new CrossAttentionLayer(cfg, act) : new SelfAttentionLayer(cfg, act));
    this.norm = new RMSNorm(cfg.hiddenSize, cfg.rmsNormEps);
  }

  forward(input: MllamaTextInput): Omit<MllamaTextOutput, 'logits'> {
    const ids = input.inputIds, cfg = this.cfg;
    if (ids.ndim !== 2) throw new Error(`mllama text: input_ids must be [B, T], got [${ids.shape.join(', ')}]`);
    const [B, T] = ids.shape as [number, number];
    const cache = input.cache ?? emptyCache(cfg.numLayers);
    const pos = input.positionIds?.toList() ?? null;
    const positions = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => pos ? pos[b * T + t]! : cache.length + t));
    const rope = ropeTables(cfg.rope, cfg.headDim, positions); // [B, 1, T, D]
    const selfMask = keyMask(input.attentionMask ?? null, B, cache.length + T);
    const states = input.crossAttentionStates ?? null;
    const cross = states || cache.layers.some((l, i) => l && cfg.crossAttentionLayers.includes(i))
      ? crossMask(input.crossAttentionMask ?? null, B, T, input.tokensPerTile ?? 1) : null;
    let x = this.embed_tokens.forward(ids); // [B, T, C]
    const hiddenStates = [x];
    const layers: (LayerKV | null)[] = [];
    this.layers.forEach((layer, i) => {
      const past = cache.layers[i] ?? null;
      if (layer instanceof CrossAttentionLayer) {
        const kv = states ? layer.cross_attn.keyValues(states) : past;
        layers.push(kv);
        if (!kv) return; // no vision input at all: the layer is skipped
        x = layer.forward(x, kv, cross?.mask ?? null, cross?.rowMask ?? null);
      } else {
        const r = layer.forward(x, rope, selfMask, past);
        x = r.out;
        layers.push(r.kv);
      }
      hiddenStates.push(x);
    });
    hiddenStates[hiddenStates.length - 1] = this.norm.forward(x);
    return { hiddenStates, cache: Object.freeze({ layers: Object.freeze(layers), length: cache.length + T }) };
  }
}

/** `MllamaForCausalLM`: the text model and an untied lm_head of vocab_size rows. */
export class MllamaCausalLM extends Module {
  model: MllamaTextModel;
  lm_head: Linear;
  constructor(readonly cfg: MllamaTextConfig) {
    super();
    this.model = new MllamaTextModel(cfg);
    this.lm_head = new Linear(cfg.hiddenSize, cfg.vocabSize, { bias: false });
  }
  forward(input: MllamaTextInput): MllamaTextOutput {
    const r = this.model.forward(input);
    return { ...r, logits: this.lm_head.forward(r.hiddenStates[r.hiddenStates.length - 1]!) };
  }
}

function keyMask(mask: Tensor | null, B: number, S: number): Tensor | null {
  if (!mask) return null;
  if (mask.ndim !== 2 || mask.shape[0] !== B || mask.shape[1] !== S) {
    throw new Error(`mllama text: attention_mask [${mask.shape.join(', ')}] should be [${B}, ${S}] (cached + new positions)`);
  }
  const v = mask.toList();
  return v.every((m) => m !== 0) ? null : tensor(Float32Array.from(v, (m) => (m === 0 ? -Infinity : 0)), { shape: [B, 1, 1, S] });
}

/**
 * cross_attention_mask [B, T, images, tiles] → additive key mask [B, 1, T, images·tiles·n] (−inf on unseen tiles) and
 * the row mask [B, T, 1]. Rows that see no tile get neither a mask nor an MLP branch. No mask: everything is seen.
 */
function crossMask(m: Tensor | null, B: number, T: number, n: number): { mask: Tensor; rowMask: Tensor } | null {
  if (!m) return null;
  if (m.ndim !== 4 || m.shape[0] !== B || m.shape[1] !== T) {
    throw new Error(`mllama text: cross_attention_mask [${m.shape.join(', ')}] should be [${B}, ${T}, images, tiles]`);
  }
  const tiles = m.shape[2]! * m.shape[3]!, K = tiles * n, v = m.toList();
  const mask = new Float32Array(B * T * K), row = new Float32Array(B * T);
  for (let r = 0; r < B * T; r++) {
    const seen = v.slice(r * tiles, r * tiles + tiles);
    if (!seen.some((x) => x !== 0)) continue;
    row[r] = 1;
    seen.forEach((x, j) => { if (x === 0) mask.fill(-Infinity, r * K + j * n, r * K + j * n + n); });
  }
  return { mask: tensor(mask, { shape: [B, 1, T, K] }), rowMask: tensor(row, { shape: [B, T, 1] }) };
}
