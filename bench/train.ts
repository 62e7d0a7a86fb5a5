// bench:train — the Llama-style training anchor (vocab 512, d 256, 4 layers, 4 heads, SwiGLU 1024, seq 128,
// batch 16; forward + backward + AdamW), built from tessera's own modules, in tokens/s per backend. With
// TESSERA_REF_PYTHON=/path/to/python the PyTorch anchor (../shared/bench/torch_llama_step.py) runs in the same
// invocation and the ratio is printed. TESSERA_PROFILE=1 prints where the time goes, per kernel.
//
// `--interleave` runs PyTorch's steps one at a time beside tessera's (scripts/torch_step_server.py), alternating a
// tessera step and a PyTorch step, and prints the median of the per-pair ratios: this VM's pace drifts by up to
// 2x between minutes, which distorts a ratio of two runs taken one after the other.
//
//   npm run bench:train -- [--backends blas,wasm,reference] [--steps 5] [--warmup 2] [--threads 2] [--interleave]

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Backend } from '../src/backend/backend.ts';
import { withBackendAsync } from '../src/backend/registry.ts';
import { loadFastBackends, threadCount } from '../src/backend/select.ts';
import { referenceBackend } from '../src/backend/reference/index.ts';
import { parseLlmConfig } from '../src/models/llm/config.ts';
import { CausalLM } from '../src/models/llm/decoder.ts';
import { AdamW } from '../src/optim/adamw.ts';
import { crossEntropy, manualSeed, randint, Rng, slice } from '../src/tensor/index.ts';
import { sharedDir } from '../src/util/paths.ts';
import { printAlternated, timeSteps } from './steps.ts';

const { values: args } = parseArgs({
  options: {
    backends: { type: 'string' }, steps: { type: 'string', default: '5' }, warmup: { type: 'string', default: '2' },
    threads: { type: 'string' }, batch: { type: 'string', default: '16' }, seq: { type: 'string', default: '128' },
    interleave: { type: 'boolean', default: false },
  },
});
const threads = args.threads ? Number(args.threads) : threadCount();
process.env.TESSERA_THREADS = String(threads);
const config = { vocab: 512, d: 256, layers: 4, heads: 4, kv_heads: 4, mlp: 1024, seq: Number(args.seq), batch: Number(args.batch) };

function build(): { model: CausalLM; opt: AdamW } {
  manualSeed(0);
  const cfg = parseLlmConfig({
    model_type: 'llama', vocab_size: config.vocab, hidden_size: config.d, intermediate_size: config.mlp,
    num_hidden_layers: config.layers, num_attention_heads: config.heads, num_key_value_heads: config.kv_heads,
    rms_norm_eps: 1e-6, tie_word_embeddings: false, max_position_embeddings: config.seq, hidden_act: 'silu', rope_theta: 10000,
  }, 'bench');
  const model = new CausalLM(cfg);
  return { model, opt: new AdamW([...model.namedParameters()], { lr: 3e-4, weightDecay: 0.1 }) };
}

/** One training step of the anchor on backend `b` (made active by the caller), returning the loss. */
function anchorStep(): () => number {
  const { model, opt } = build();
  const data = randint(0, config.vocab, [config.batch, config.seq + 1], { rng: new Rng(0) });
  const x = slice(data, 1, 0, config.seq), y = slice(data, 1, 1, config.seq + 1);
  return () => {
    const logits = model.forward({ inputIds: x }).logits;
    const loss = crossEntropy(logits.reshape([-1, config.vocab]), y.reshape([-1]));
    opt.zeroGrad();
    loss.backward();
    opt.step();
    return loss.item();
  };
}

async function measure(b: Backend): Promise<{ tokensPerS: number; medianS: number; lossFirst: number; lossLast: number }> {
  const t = await withBackendAsync(b, () => timeSteps(anchorStep(), Number(args.warmup), Number(args.steps), b.name));
  return { tokensPerS: (config.batch * config.seq) / t.medianS, ...t };
}

const { backends } = await loadFastBackends();
const all = [...backends, referenceBackend];
const wanted = args.backends ? args.backends.split(',') : all.filter((b) => b.name !== 'reference').map((b) => b.name);
const py = process.env.TESSERA_REF_PYTHON;
const script = join(sharedDir(), 'bench/torch_llama_step.py');
if (args.interleave) {
  if (!py || !existsSync(script)) throw new Error(`--interleave needs TESSERA_REF_PYTHON and ${script}`);
  for (const name of wanted) {
    const b = all.find((x) => x.name === name);
    if (!b) { console.error(`backend ${name} is not available here`); continue; }
    await printAlternated('train', b, anchorStep, config, py, script, ['--threads', String(threads), '--batch', String(config.batch), '--seq', String(config.seq)], Number(args.warmup), Number(args.steps), config.batch * config.seq);
  }
  process.exit(0);
}
const rows: { impl: string; tokensPerS: number }[] = [];
for (const name of wanted) {
  const b = all.find((x) => x.name === name);
  if (!b) { console.error(`backend ${name} is not available here`); continue; }
  const r = await measure(b);
  rows.push({ impl: `tessera-${name}`, tokensPerS: r.tokensPerS });
  console.log(JSON.stringify({ bench: 'train', impl: `tessera-${name}`, threads: b.threads, config, median_step_s: r.medianS,
    tokens_per_s: r.tokensPerS, loss_first: r.lossFirst, loss_last: r.lossLast, date: new Date().toISOString() }));
}

if (py && existsSync(script)) {
  const r = spawnSync(py, [script, '--threads', String(threads), '--batch', String(config.batch), '--seq', String(config.seq)], { encoding: 'utf8' });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    const j = JSON.parse(line) as { tokens_per_s_median: number };
    rows.push({ impl: 'pytorch', tokensPerS: j.tokens_per_s_median });
    console.log(JSON.stringify({ bench: 'train', impl: 'pytorch', threads, config, tokens_per_s: j.tokens_per_s_median }));
  } catch {
    console.error(`PyTorch anchor failed: ${r.stderr.slice(-500)}`);
  }
}

const torch = rows.find((r) => r.impl === 'pytorch')?.tokensPerS;
console.log(`\n${'impl'.padEnd(20)} ${'tokens/s'.padStart(10)} ${torch ? 'vs pytorch'.padStart(11) : ''}`);
for (const r of rows) console.log(`${r.impl.padEnd(20)} ${r.tokensPerS.toFixed(0).padStart(10)} ${torch ? `${(r.tokensPerS / torch).toFixed(2)}x`.padStart(11) : ''}`);
