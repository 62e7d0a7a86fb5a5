// Llama / Qwen2 decoder-only transformer (transformers `LlamaForCausalLM`, `Qwen2ForCausalLM`):
// embed → N × [RMSNorm → attention (RoPE rotate-half, grouped KV heads) → residual → RMSNorm → SwiGLU → residual]
// → RMSNorm → lm_head. The decoder also takes `inputsEmbeds`, so multimodal models (LLaVA, Qwen2-Audio) splice
// their features in before it. Field names are the HF runtime module names (snake_case on purpose), so the
// parameter names (`model.layers.0.self_attn.q_proj.weight`) map onto checkpoints without a table.
//
// Shapes: B batch, T new tokens, S cached + new tokens, C hidden, H heads, Hkv key/value heads, D head dim, V vocab.

import { Embedding, Linear, RMSNorm } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';
import { embedding, full, linear, rope as fusedRope, scaledDotProductAttention, slice, swiglu, type Tensor } from '../../tensor/index.ts';
import { activation, type Activation } from '../../io/hf/activations.ts';
import { appendKV, emptyCache, type KVCache, type LayerKV } from './cache.ts';
import type { LlmConfig } from './config.ts';
import { ropeTables } from './rope.ts';

class Attention extends Module {
  q_proj: Linear; k_proj: Linear; v_proj: Linear; o_proj: Linear;
  constructor(private readonly cfg: LlmConfig) {
    super();
    const { hiddenSize: C, numHeads: H, numKvHeads: Hkv, headDim: D, attentionBias } = cfg;
    this.q_proj = new Linear(C, H * D, { bias: attentionBias });
    this.k_proj = new Linear(C, Hkv * D, { bias: attentionBias });
    this.v_proj = new Linear(C, Hkv * D, { bias: attentionBias });
    // Qwen2 puts biases on q/k/v only; Llama's attention_bias covers o_proj too.
    this.o_proj = new Linear(H * D, C, { bias: attentionBias && cfg.family === 'llama' });
  }

  forward(x: Tensor, rope: { cos: Tensor; sin: Tensor }, mask: AttentionMask, past: LayerKV | null): { out: Tensor; kv: LayerKV } {
    const [B, T] = x.shape as [number, number, number];
    const { numHeads: H, numKvHeads: Hkv, headDim: D } = this.cfg;
    // RoPE is applied in [B, T, heads, D] and the heads are then transposed as views, so the attention kernel
    // reads the projections' own layout (no copies); the cache keeps that layout too.
    const tables = { cos: headMajor(rope.cos), sin: headMajor(rope.sin) }; // [B, T, 1, R]
    const q = rotate(this.q_proj.forward(x).reshape([B, T, H, D]), tables).transpose(1, 2); // [B, H, T, D]
    const k = rotate(this.k_proj.forward(x).reshape([B, T, Hkv, D]), tables).transpose(1, 2); // [B, Hkv, T, D]
    const v = this.v_proj.forward(x).reshape([B, T, Hkv, D]).transpose(1, 2); // [B, Hkv, T, D]
    const kv = appendKV(past, k, v); // [B, Hkv, S, D]
    const y = scaledDotProductAttention(q, kv.k, kv.v, mask); // [B, H, T, D]
    return { out: this.o_proj.forward(y.transpose(1, 2).reshape([B, T, H * D])), kv }; // [B, T, C]
  }
}

/** [B, 1, T, R] rope tables as [B, T, 1, R], to broadcast over heads in the [B, T, heads, D] layout. */
function headMajor(t: Tensor): Tensor {
  const [b, , T, R] = t.shape as [number, number, number, number];
  return t.reshape([b, T, 1, R]);
}

/** RoPE (one fused kernel) on the first `cos.shape[-1]` channels of each head of x [B, T, heads, D]. */
function rotate(x: Tensor, rope: { cos: Tensor; sin: Tensor }): Tensor {
  return fusedRope(x, rope.cos, rope.sin);
}

class Mlp extends Module {
  gate_proj: Linear; up_proj: Linear; down_proj: Linear;
  private readonly act: Activation;
  private readonly swiglu: boolean;
  constructor(cfg: LlmConfig) {
    super();
    const bias = cfg.mlpBias;
    this.gate_proj = new Linear(cfg.hiddenSize, cfg.intermediateSize, { bias });
    this.up_proj = new Linear(cfg.hiddenSize, cfg.intermediateSize, { bias });
    this.down_proj = new Linear(cfg.intermediateSize, cfg.hiddenSize, { bias });
    this.act = activation(cfg.hiddenAct, 'text_config.hidden_act');
    this.swiglu = cfg.hiddenAct === 'silu' || cfg.hiddenAct === 'swish';
  }
  forward(x: Tensor): Tensor {
    const gate = this.gate_proj.forward(x), up = this.up_proj.forward(x);
    // SiLU-gated MLPs (Llama, Qwen2) take the fused kernel; other activations the composition
    return this.down_proj.forward(this.swiglu ? swiglu(gate, up) : this.act(gate).mul(up));
  }
}

class DecoderLayer extends Module {
  self_attn: Attention; mlp: Mlp; input_layernorm: RMSNorm; post_attention_layernorm: RMSNorm;
  constructor(cfg: LlmConfig) {
    super();
    this.self_attn = new Attention(cfg);
    this.mlp = new Mlp(cfg);
    this.input_layernorm = new RMSNorm(cfg.hiddenSize, cfg.rmsNormEps);
    this.post_attention_layernorm = new RMSNorm(cfg.hiddenSize, cfg.rmsNormEps);
  }
  forward(x: Tensor, rope: { cos: Tensor; sin: Tensor }, mask: AttentionMask, past: LayerKV | null): { out: Tensor; kv: LayerKV } {
    const a = this.self_attn.forward(this.input_layernorm.forward(x), rope, mask, past);
    const h = x.add(a.out);
    return { out: h.add(this.mlp.forward(this.post_attention_layernorm.forward(h))), kv: a.kv };
  }
}

export interface DecoderInput {
  /** [B, T] token ids; or give `inputsEmbeds`. */
  inputIds?: Tensor;
  /** [B, T, C] embeddings (e.g. with image features spliced in). */
  inputsEmbeds?: Tensor;
  /** [B, S] 1 = attend, 0 = padding, over cached + new positions. Absent: attend everywhere (causally). */
  attentionMask?: Tensor | null;
  /** [B, T] positions; absent: cache.length + arange(T) for every row (as a plain transformers forward). */
  positionIds?: Tensor | null;
  /** Precomputed rotary tables cos, sin [B, 1, T, R] (e.g. Qwen2-VL's M-RoPE); they replace `positionIds`. */
  rope?: { cos: Tensor; sin: Tensor } | null;
  cache?: KVCache;
  outputHiddenStates?: boolean;
}

export interface DecoderOutput {
  /** [B, T, C] after the final norm. */
  lastHiddenState: Tensor;
  /** n_layers + 1 entries: embeddings, each layer's output, and the last one after the final norm (as transformers 5.x). */
  hiddenStates: Tensor[] | null;
  cache: KVCache;
}

/** The decoder body (`LlamaModel` / `Qwen2Model`). */
export class DecoderModel extends Module {
  embed_tokens: Embedding;
  layers: DecoderLayer[];
  norm: RMSNorm;
  constructor(readonly cfg: LlmConfig) {
    super();
    this.embed_tokens = new Embedding(cfg.vocabSize, cfg.hiddenSize, cfg.padTokenId);
    this.layers = Array.from({ length: cfg.numLayers }, () => new DecoderLayer(cfg));
    this.norm = new RMSNorm(cfg.hiddenSize, cfg.rmsNormEps);
  }

  embed(ids: Tensor): Tensor {
    return embedding(this.embed_tokens.weight, ids, this.cfg.padTokenId); // [B, T, C]
  }

  forward(input: DecoderInput): DecoderOutput {
    const x0 = input.inputsEmbeds ?? (input.inputIds ? this.embed(input.inputIds) : null);
    if (!x0 || x0.ndim !== 3) throw new Error('decoder: give inputIds [B, T] or inputsEmbeds [B, T, C]');
    const [B, T] = x0.shape as [number, number, number];
    const cache = input.cache ?? emptyCache(this.cfg.numLayers);
    if (cache.layers.length !== this.cfg.numLayers) throw new Error(`decoder: cache has ${cache.layers.length} layers, model ${this.cfg.numLayers}`);
    const rotary = Math.floor(this.cfg.headDim * this.cfg.rope.partialRotaryFactor);
    // positions shared by every row (the usual case) give one table row, which the kernel reuses across the batch
    const rope = input.rope ?? ropeTables(this.cfg.rope, rotary, positionRows(input.positionIds ?? null, B, T, cache.length)); // [B or 1, 1, T, R]
    if (rope.cos.ndim !== 4 || (rope.cos.shape[0] !== B && rope.cos.shape[0] !== 1) || rope.cos.shape[2] !== T || rope.cos.shape[3] !== rotary) {
      throw new Error(`decoder: rope tables [${rope.cos.shape.join(', ')}] should be [${B} (or 1), 1, ${T}, ${rotary}]`);
    }
    const mask = hfAttentionMask(input.attentionMask ?? null, B, T, cache.length + T);
    const hidden: Tensor[] = [x0];
    const layers: LayerKV[] = [];
    let x = x0;
    this.layers.forEach((layer, i) => {
      const r = layer.forward(x, rope, mask, cache.layers[i] ?? null);
      x = r.out;
      layers.push(r.kv);
      if (i < this.layers.length - 1) hidden.push(x);
    });
    const last = this.norm.forward(x);
    hidden.push(last);
    return {
      lastHiddenState: last,
      hiddenStates: input.outputHiddenStates ? hidden : null,
      cache: Object.freeze({ layers: Object.freeze(layers), length: cache.length + T }),
    };
  }
}

/** Position rows for the rope tables: one row when every sequence shares it, else B rows. */
function positionRows(ids: Tensor | null, B: number, T: number, start: number): number[][] {
  if (!ids) return [Array.from({ length: T }, (_, t) => start + t)];
  if (ids.ndim !== 2 || ids.shape[1] !== T || (ids.shape[0] !== B && ids.shape[0] !== 1)) {
    throw new Error(`decoder: position_ids [${ids.shape.join(', ')}] do not fit [${B}, ${T}]`);
  }
  const v = ids.toList();
  return Array.from({ length: ids.shape[0]! }, (_, b) => v.slice(b * T, b * T + T));
}

/** What the attention kernel gets: the causal flag, or one additive mask that already holds causality. */
type AttentionMask = { causal: boolean; mask: Tensor | null };

/** torch.finfo(torch.float32).min, the fill value of transformers' eager masks. */
export const FLOAT32_MIN = -3.4028234663852886e38;

/**
 * transformers' eager mask: one additive [B, 1, T, S] tensor, 0 where key j ≤ the query's position and
 * attention_mask[b, j] == 1, finfo(float32).min elsewhere. The fill is finite on purpose: a query whose keys are
 * all masked (a left pad) then scores min + s ≈ min for every key and attends uniformly to all of them, and HF
 * uses that output (e.g. the Qwen2-Audio loss term predicted from the last pad). Without padding the kernel's
 * causal flag does the same work faster.
 */
function hfAttentionMask(mask: Tensor | null, B: number, T: number, S: number): AttentionMask {
  if (!mask) return { causal: true, mask: null };
  if (mask.ndim !== 2 || mask.shape[0] !== B || mask.shape[1] !== S) {
    throw new Error(`decoder: attention_mask [${mask.shape.join(', ')}] should be [${B}, ${S}] (cached + new positions)`);
  }
  const v = mask.toList();
  if (v.every((m) => m !== 0)) return { causal: true, mask: null };
  // When every query sees at least one real key (right padding, or left padding once past the pads), masking
  // keys alone under the causal flag scores exactly what the full mask does, and fast kernels take it.
  const firstReal = Array.from({ length: B }, (_, b) => { const j = v.slice(b * S, b * S + S).findIndex((m) => m !== 0); return j < 0 ? S : j; });
  if (firstReal.every((j) => j <= S - T)) {
    const keys = full([B, 1, 1, S], 0);
    const kd = keys.storage as Float32Array;
    v.forEach((m, i) => { if (m === 0) kd[i] = FLOAT32_MIN; });
    return { causal: true, mask: keys };
  }
  const add = full([B, 1, T, S], 0);
  const data = add.storage as Float32Array;
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
    const row = (b * T + t) * S, last = S - T + t; // the query's own position among the keys
    for (let j = 0; j < S; j++) if (j > last || v[b * S + j] === 0) data[row + j] = FLOAT32_MIN;
  }
  return { causal: false, mask: add };
}

export interface CausalLmOutput extends DecoderOutput {
  /** [B, T, V], or [B, 1, V] with `lastOnly`. */
  logits: Tensor;
}

/** Decoder + lm_head (`LlamaForCausalLM` / `Qwen2ForCausalLM`); with tied embeddings lm_head is embed_tokens. */
export class CausalLM extends Module {
  model: DecoderModel;
  lm_head: Linear | null;
  constructor(readonly cfg: LlmConfig) {
    super();
    this.model = new DecoderModel(cfg);
    this.lm_head = cfg.tieWordEmbeddings ? null : new Linear(cfg.hiddenSize, cfg.vocabSize, { bias: false });
  }

  /** [.., C] → [.., V] */
  head(h: Tensor): Tensor {
    return linear(h, this.lm_head?.weight ?? this.model.embed_tokens.weight);
  }

  forward(input: DecoderInput & { lastOnly?: boolean }): CausalLmOutput {
    const out = this.model.forward(input);
    const h = out.lastHiddenState;
    const T = h.shape[1]!;
    return { ...out, logits: this.head(input.lastOnly ? slice(h, 1, T - 1, T) : h) };
  }
}
