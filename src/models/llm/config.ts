// Decoder-only LLM config (Llama / Qwen2 family), parsed from a Hugging Face `LlamaConfig` / `Qwen2Config`
// JSON object. Both RoPE spellings are read: the 5.x `rope_parameters: {rope_type, rope_theta, …}` and the
// legacy top-level `rope_theta` + `rope_scaling: {type|rope_type, factor, …}` of hub configs.

import { ConfigReader, type Json } from '../../io/hf/config.ts';

export type RopeType = 'default' | 'linear' | 'dynamic' | 'llama3' | 'yarn';

export interface RopeConfig {
  readonly type: RopeType;
  readonly theta: number;
  /** Fraction of head_dim that is rotated (`partial_rotary_factor`, 1 for Llama/Qwen2). */
  readonly partialRotaryFactor: number;
  readonly factor: number;
  /** Context length the model was trained with before scaling (llama3, yarn, dynamic). */
  readonly originalMaxPositions: number;
  readonly lowFreqFactor: number;
  readonly highFreqFactor: number;
  readonly betaFast: number;
  readonly betaSlow: number;
  readonly attentionFactor: number | null;
  readonly mscale: number | null;
  readonly mscaleAllDim: number | null;
  readonly truncate: boolean;
}

export interface LlmConfig {
  readonly family: 'llama' | 'qwen2';
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly rmsNormEps: number;
  readonly hiddenAct: string;
  readonly attentionBias: boolean;
  readonly mlpBias: boolean;
  readonly tieWordEmbeddings: boolean;
  readonly maxPositions: number;
  readonly padTokenId: number | null;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly rope: RopeConfig;
}

const ropeTypes: readonly RopeType[] = ['default', 'linear', 'dynamic', 'llama3', 'yarn'];

function parseRope(c: ConfigReader, maxPositions: number): RopeConfig {
  // 5.x writes rope_parameters; hub configs have rope_theta at the top and an optional rope_scaling dict.
  const p = c.optChild('rope_parameters') ?? c.optChild('rope_scaling');
  const theta = p?.has('rope_theta') ? p.num('rope_theta') : c.num('rope_theta', 10000);
  const rawType = p ? (p.has('rope_type') ? p.str('rope_type') : p.str('type', 'default')) : 'default';
  if (!ropeTypes.includes(rawType as RopeType)) {
    throw new Error(`${p?.where ?? c.where}: rope_type "${rawType}" is not supported (known: ${ropeTypes.join(', ')})`);
  }
  const type = rawType as RopeType;
  const num = (k: string, d: number): number => p?.num(k, d) ?? d;
  const opt = (k: string): number | null => (p?.has(k) ? p.num(k) : null);
  const factor = num('factor', 1);
  if (type !== 'default' && !p?.has('factor')) throw new Error(`${p?.where ?? c.where}: rope_type "${type}" needs "factor"`);
  return Object.freeze({
    type, theta, factor,
    partialRotaryFactor: num('partial_rotary_factor', c.num('partial_rotary_factor', 1)),
    originalMaxPositions: p?.has('original_max_position_embeddings') ? p.int('original_max_position_embeddings')
      : c.int('original_max_position_embeddings', maxPositions),
    lowFreqFactor: num('low_freq_factor', 1),
    highFreqFactor: num('high_freq_factor', 4),
    betaFast: num('beta_fast', 32),
    betaSlow: num('beta_slow', 1),
    attentionFactor: opt('attention_factor'),
    mscale: opt('mscale'),
    mscaleAllDim: opt('mscale_all_dim'),
    truncate: p?.bool('truncate', true) ?? true,
  });
}

function firstId(c: ConfigReader, key: string): number | null {
  const v = c.obj[key];
  if (Array.isArray(v)) return typeof v[0] === 'number' ? v[0] : null;
  return c.optInt(key);
}

/** Parses a Llama/Qwen2 text config. `where` names the file (and sub-object) for error messages. */
export function parseLlmConfig(json: Json, where = 'config.json'): LlmConfig {
  const c = new ConfigReader(json, where);
  const modelType = c.str('model_type', 'llama');
  const family = modelType === 'qwen2' ? 'qwen2' : modelType === 'llama' ? 'llama' : null;
  if (!family) throw new Error(`${where}: text model_type "${modelType}" is not supported (known: llama, qwen2)`);
  const hiddenSize = c.int('hidden_size'), numHeads = c.int('num_attention_heads');
  const numKvHeads = c.int('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads) throw new Error(`${where}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  const headDim = c.has('head_dim') ? c.int('head_dim') : hiddenSize / numHeads;
  if (!Number.isInteger(headDim)) throw new Error(`${where}: hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`);
  const maxPositions = c.int('max_position_embeddings', 2048);
  return Object.freeze({
    family,
    vocabSize: c.int('vocab_size'),
    hiddenSize,
    intermediateSize: c.int('intermediate_size'),
    numLayers: c.int('num_hidden_layers'),
    numHeads, numKvHeads, headDim,
    rmsNormEps: c.num('rms_norm_eps', 1e-6),
    hiddenAct: c.str('hidden_act', 'silu'),
    // Qwen2 always has q/k/v biases; Llama has them only with attention_bias.
    attentionBias: family === 'qwen2' ? true : c.bool('attention_bias', false),
    mlpBias: c.bool('mlp_bias', false),
    tieWordEmbeddings: c.bool('tie_word_embeddings', false),
    maxPositions,
    padTokenId: firstId(c, 'pad_token_id'),
    bosTokenId: firstId(c, 'bos_token_id'),
    eosTokenId: firstId(c, 'eos_token_id'),
    rope: parseRope(c, maxPositions),
  });
}
