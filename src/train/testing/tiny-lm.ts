// Test support: a tiny seeded Qwen2-style CausalLM and a token corpus with structure to learn, so the
// trainer can be exercised end to end in seconds. Weights come from their own Rng (not the global one),
// so two processes built with the same seed start from identical bits.

import { CausalLM } from '../../models/llm/decoder.ts';
import { parseLlmConfig } from '../../models/llm/config.ts';
import { Rng } from '../../tensor/index.ts';
import { languageModelObjective, type Objective, type TokenBatch, type TokenSample } from '../objective.ts';

export const tinyVocab = 48;
export const tinyPad = 0;

export function tinyLm(seed = 1, opts: { tied?: boolean } = {}): CausalLM {
  const cfg = parseLlmConfig({
    model_type: 'qwen2', vocab_size: tinyVocab, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2,
    num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 64, tie_word_embeddings: opts.tied ?? false,
    pad_token_id: tinyPad,
  }, 'tiny-lm');
  const model = new CausalLM(cfg);
  const rng = new Rng(seed);
  for (const [name, p] of model.namedParameters()) {
    const data = p.storage as Float32Array;
    const norm = name.endsWith('norm.weight');
    for (let i = 0; i < data.length; i++) data[i] = norm ? 1 : 0.1 * rng.normal();
  }
  return model;
}

export function tinyObjective(model: CausalLM): Objective<TokenSample, TokenBatch> {
  return languageModelObjective(model, (b) => model.forward({ inputIds: b.inputIds, attentionMask: b.attentionMask }).logits, tinyPad);
}

/** `n` sequences of a counting pattern with seeded start and stride (lengths vary, so padding is exercised). */
export function tinyCorpus(n: number, seed = 3): TokenSample[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const len = 6 + rng.int(7), start = 1 + rng.int(tinyVocab - 1), stride = 1 + rng.int(3);
    const ids = Array.from({ length: len }, (_, i) => 1 + ((start + i * stride) % (tinyVocab - 1)));
    return { ids, labels: ids.slice() };
  });
}
