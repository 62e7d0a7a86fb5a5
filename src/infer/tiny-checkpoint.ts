// A real, tiny Qwen2 checkpoint folder for tests and benchmarks: a seeded random `CausalLM` from
// src/models/llm saved as config.json + model.safetensors, with the BPE fixture tokenizer (test/fixtures/bpe/ours,
// ChatML template with tools). Its text is gibberish but every layer runs for real.
//
// A `script` makes the same architecture emit a fixed sequence of tokens after the generation prompt: each text
// of the script is added to the vocabulary as one token (as the fixture already has `<tool_call>`), attention
// and MLP outputs are zeroed so the final hidden state is the normalised embedding of the last token, and
// lm_head row b is set to the direction of token a's embedding for each step a → b of the chain — a bigram
// model in real weights. The chain starts at "\n" (the end of `<|im_start|>assistant\n`) and ends in eos.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '../io/safetensors.ts';
import type { TensorData } from '../io/safetensors.ts';
import { CausalLM } from '../models/llm/decoder.ts';
import { parseLlmConfig } from '../models/llm/config.ts';
import { manualSeed } from '../tensor/index.ts';
import { Tokenizer } from '../data/tokenizer/tokenizer.ts';
import { repoRoot } from '../util/paths.ts';

export const fixtureTokenizerDir = join(repoRoot, 'test/fixtures/bpe/ours');

export interface TinyCheckpointOptions {
  seed?: number;
  /** Texts the model emits one token each, in order, then eos. */
  script?: readonly string[];
  hiddenSize?: number;
  numLayers?: number;
  maxPositions?: number;
}

interface AddedTokenJson { id: number; content: string; single_word: boolean; lstrip: boolean; rstrip: boolean; normalized: boolean; special: boolean }

/** Writes the checkpoint into `dir` (created if needed) and returns its tokenizer. */
export function writeTinyCheckpoint(dir: string, opts: TinyCheckpointOptions = {}): Tokenizer {
  mkdirSync(dir, { recursive: true });
  const tokJson = JSON.parse(readFileSync(join(fixtureTokenizerDir, 'tokenizer.json'), 'utf8')) as { added_tokens: AddedTokenJson[] };
  const tokConfig = JSON.parse(readFileSync(join(fixtureTokenizerDir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  const base = Tokenizer.fromJson(tokJson, tokConfig);
  let nextId = base.vocabSize;
  for (const text of opts.script ?? []) {
    if (base.tokenToId(text) !== undefined || tokJson.added_tokens.some((t) => t.content === text)) continue;
    tokJson.added_tokens.push({ id: nextId++, content: text, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false });
  }
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokJson));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokConfig));
  const tokenizer = Tokenizer.fromFile(dir);

  const hidden = opts.hiddenSize ?? 64;
  const config = {
    model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'],
    vocab_size: Math.ceil(tokenizer.vocabSize / 8) * 8, hidden_size: hidden, intermediate_size: hidden * 2,
    num_hidden_layers: opts.numLayers ?? 2, num_attention_heads: 4, num_key_value_heads: 2,
    max_position_embeddings: opts.maxPositions ?? 512, rms_norm_eps: 1e-6, rope_theta: 10000,
    tie_word_embeddings: false, hidden_act: 'silu', eos_token_id: tokenizer.specialIds.eos ?? null, torch_dtype: 'float32',
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));

  manualSeed(opts.seed ?? 0);
  const model = new CausalLM(parseLlmConfig(config));
  if (opts.script) scriptWeights(model, tokenizer, opts.script);
  const tensors: Record<string, TensorData> = {};
  for (const [name, p] of model.stateDict()) tensors[name] = { dtype: 'float32', shape: [...p.shape], data: p.toFloat32Array() };
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  return tokenizer;
}

function scriptWeights(model: CausalLM, tokenizer: Tokenizer, script: readonly string[]): void {
  const ids = ['\n', ...script].map((text) => {
    const enc = tokenizer.encodeIds(text, { addSpecialTokens: false });
    if (enc.length !== 1) throw new Error(`tiny checkpoint: script text ${JSON.stringify(text)} is ${enc.length} tokens, not 1`);
    return enc[0]!;
  });
  const eos = tokenizer.specialIds.eos;
  if (eos === undefined) throw new Error('tiny checkpoint: the tokenizer has no eos token');
  ids.push(eos);
  if (new Set(ids.slice(0, -1)).size !== ids.length - 1) throw new Error('tiny checkpoint: a script token repeats, so a bigram cannot follow it');
  for (const layer of model.model.layers) {
    (layer.self_attn.o_proj.weight.storage as Float32Array).fill(0);
    (layer.mlp.down_proj.weight.storage as Float32Array).fill(0);
  }
  const C = model.cfg.hiddenSize;
  const embed = model.model.embed_tokens.weight.storage as Float32Array;
  const head = model.lm_head!.weight.storage as Float32Array;
  head.fill(0);
  const scale = 4;
  for (let s = 0; s + 1 < ids.length; s++) {
    const a = ids[s]!, b = ids[s + 1]!;
    let norm = 0;
    for (let c = 0; c < C; c++) norm += embed[a * C + c]! ** 2;
    norm = Math.sqrt(norm);
    for (let c = 0; c < C; c++) head[b * C + c] = (scale * embed[a * C + c]!) / norm;
  }
}
