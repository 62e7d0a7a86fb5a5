// bench:decode — cached greedy decoding speed at batch 1 and 8, beside the machine's memory-bandwidth limit.
// Each decode step reads every weight once, so tokens/s per sequence is bounded by bandwidth / weight bytes
// (times the batch for the whole batch). The model is a random Llama of the training anchor's size, or
// --model DIR (a tessera/HF text checkpoint the registry loads).
//
//   npm run bench:decode -- [--prompt 64] [--tokens 64] [--batches 1,8] [--d 256 --layers 4 --vocab 512 --mlp 1024]

import { parseArgs } from 'node:util';
import { initBackend } from '../src/backend/select.ts';
import { parseLlmConfig } from '../src/models/llm/config.ts';
import { CausalLM } from '../src/models/llm/decoder.ts';
import { detachCache, type KVCache } from '../src/models/llm/cache.ts';
import { argmax, manualSeed, noGrad, randint, Rng, type Tensor } from '../src/tensor/index.ts';

const { values: a } = parseArgs({ options: {
  prompt: { type: 'string', default: '64' }, tokens: { type: 'string', default: '64' }, batches: { type: 'string', default: '1,8' },
  d: { type: 'string', default: '256' }, layers: { type: 'string', default: '4' }, vocab: { type: 'string', default: '512' },
  mlp: { type: 'string', default: '1024' }, heads: { type: 'string', default: '4' },
} });

const backend = await initBackend();
manualSeed(0);
const cfg = parseLlmConfig({ model_type: 'llama', vocab_size: Number(a.vocab), hidden_size: Number(a.d), intermediate_size: Number(a.mlp),
  num_hidden_layers: Number(a.layers), num_attention_heads: Number(a.heads), num_key_value_heads: Number(a.heads), rms_norm_eps: 1e-6,
  tie_word_embeddings: false, max_position_embeddings: 4096, hidden_act: 'silu', rope_theta: 10000 }, 'bench');
const model = new CausalLM(cfg).eval();
const weightBytes = model.numParameters() * 4;

// copy bandwidth: read + write of a large array
const big = new Float32Array(64 << 20), dst = new Float32Array(64 << 20);
dst.set(big);
let t = performance.now();
for (let i = 0; i < 4; i++) dst.set(big);
const copyGBs = (4 * 2 * big.byteLength) / ((performance.now() - t) / 1000) / 1e9;

for (const B of (a.batches ?? '1').split(',').map(Number)) {
  const P = Number(a.prompt), N = Number(a.tokens);
  const ids = randint(0, cfg.vocabSize, [B, P], { rng: new Rng(1) });
  // one noGrad per step, as the server decodes: an async callback would leave gradients on after its first await
  const step = (inputIds: Tensor, cache?: KVCache) => noGrad(() => {
    const r = model.forward({ inputIds, ...(cache ? { cache } : {}), lastOnly: true });
    return { cache: detachCache(r.cache), next: argmax(r.logits, -1) }; // next [B, 1]
  });
  let s = step(ids);
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    s = step(s.next, s.cache);
    await new Promise((res) => setImmediate(res));
  }
  const out = (performance.now() - t0) / 1000;
  const tokS = (B * N) / out;
  const boundTokS = (B * copyGBs * 1e9) / weightBytes;
  console.log(JSON.stringify({ bench: 'decode', impl: `tessera-${backend.name}`, threads: backend.threads, batch: B,
    config: { d: cfg.hiddenSize, layers: cfg.numLayers, vocab: cfg.vocabSize, mlp: cfg.intermediateSize, prompt: P },
    tokens_per_s: tokS, ms_per_step: (1000 * out) / N, weight_mb: weightBytes / 1e6, copy_gbps: copyGBs, bandwidth_bound_tokens_per_s: boundTokS }));
}
