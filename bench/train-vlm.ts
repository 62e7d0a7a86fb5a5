// bench:train-vlm — one instruct training step of the tessera-demo model (src/train/recipes/presets.ts demoModel:
// SigLIP ViT 128 px / patch 16, Whisper-style encoder on 3 s of 32 mel bins, Qwen2 decoder d 192 × 4) on a
// realistic batch: 8 sequences of 180 tokens — 4 with an image (64 tokens), 2 with an audio (75 tokens), 2 with
// both — every part trained (forward + backward + AdamW), in tokens/s. With TESSERA_REF_PYTHON=/path/to/python
// the same model in PyTorch (scripts/torch_vlm_step.py, transformers' Qwen2 / SigLIP / Qwen2-Audio modules)
// runs in the same invocation and the ratio is printed; with `--interleave` its steps alternate with tessera's
// (bench/steps.ts alternateWithTorch) and the ratio is the median over the pairs.
//
//   npm run bench:train-vlm -- [--backends blas,wasm] [--steps 5] [--warmup 2] [--threads 2] [--interleave]

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Backend } from '../src/backend/backend.ts';
import { withBackendAsync } from '../src/backend/registry.ts';
import { loadFastBackends, threadCount } from '../src/backend/select.ts';
import { referenceBackend } from '../src/backend/reference/index.ts';
import { initTessera } from '../src/models/tessera/checkpoint.ts';
import { tesseraConfigFromSizes } from '../src/models/tessera/config.ts';
import type { TesseraBatch } from '../src/models/tessera/model.ts';
import { AdamW } from '../src/optim/adamw.ts';
import { randn, Rng, tensor } from '../src/tensor/index.ts';
import { demoModel } from '../src/train/recipes/presets.ts';
import { repoRoot } from '../src/util/paths.ts';
import { printAlternated, timeSteps } from './steps.ts';

const { values: args } = parseArgs({
  options: { backends: { type: 'string' }, steps: { type: 'string', default: '5' }, warmup: { type: 'string', default: '2' }, threads: { type: 'string' },
    interleave: { type: 'boolean', default: false } },
});
const threads = args.threads ? Number(args.threads) : threadCount();
process.env.TESSERA_THREADS = String(threads);

// the batch layout, shared with scripts/torch_vlm_step.py: [kind, image tokens, audio tokens] per sequence
const vocab = 1024, imageId = 3, audioId = 4, T = 180, answerTokens = 4, melFrames = 300;
const rows: [string, number, number][] = [['image', 64, 0], ['image', 64, 0], ['image', 64, 0], ['image', 64, 0], ['audio', 0, 75], ['audio', 0, 75], ['both', 64, 75], ['both', 64, 75]];
const B = rows.length;
const config = { model: demoModel, vocab, batch: B, seq: T, images: rows.filter((r) => r[1]).length, audios: rows.filter((r) => r[2]).length };

function batch(): TesseraBatch {
  const rng = new Rng(0);
  const ids = new Int32Array(B * T), labels = new Int32Array(B * T).fill(-100);
  rows.forEach(([, ni, na], b) => {
    // 16 text tokens, the image, the audio, then text up to T; the last tokens are the answer
    for (let t = 0; t < T; t++) ids[b * T + t] = 8 + ((b * 131 + t * 17) % (vocab - 8));
    ids.fill(imageId, b * T + 16, b * T + 16 + ni);
    ids.fill(audioId, b * T + 16 + ni, b * T + 16 + ni + na);
    for (let t = T - answerTokens; t < T; t++) labels[b * T + t] = ids[b * T + t]!;
  });
  const s = demoModel.vision.imageSize;
  return {
    inputIds: tensor(ids, { shape: [B, T], dtype: 'int32' }), attentionMask: tensor(new Int32Array(B * T).fill(1), { shape: [B, T], dtype: 'int32' }),
    labels: tensor(labels, { shape: [B, T], dtype: 'int32' }),
    pixelValues: randn([config.images, 3, s, s], { rng }), audioFeatures: randn([config.audios, demoModel.audio.melBins, melFrames], { rng }),
    audioLengths: new Array<number>(config.audios).fill(melFrames),
  };
}

/** One training step of the demo model on the active backend, returning the loss. */
function demoStep(): () => number {
  const m = demoModel;
  const model = initTessera(tesseraConfigFromSizes({ vocabSize: vocab, imageTokenId: imageId, audioTokenId: audioId, hidden: m.hidden, layers: m.layers,
    heads: m.heads, kvHeads: m.kvHeads, maxPositions: m.maxPositions, vision: m.vision, audio: m.audio }), 0);
  model.train();
  const opt = new AdamW([...model.namedParameters()], { lr: 1e-3, weightDecay: 0.0 });
  const x = batch();
  return () => {
    const loss = model.forward(x).loss!;
    opt.zeroGrad();
    loss.backward();
    opt.step();
    return loss.item();
  };
}

async function measure(b: Backend): Promise<{ tokensPerS: number; medianS: number; lossFirst: number; lossLast: number }> {
  const t = await withBackendAsync(b, () => timeSteps(demoStep(), Number(args.warmup), Number(args.steps), b.name));
  return { tokensPerS: (B * T) / t.medianS, ...t };
}

const { backends } = await loadFastBackends();
const all = [...backends, referenceBackend];
const wanted = args.backends ? args.backends.split(',') : all.filter((b) => b.name !== 'reference').map((b) => b.name);
const py = process.env.TESSERA_REF_PYTHON;
const torchConfig = JSON.stringify({ model: demoModel, vocab, image_id: imageId, audio_id: audioId, seq: T, answer_tokens: answerTokens, mel_frames: melFrames, rows });
if (args.interleave) {
  if (!py) throw new Error('--interleave needs TESSERA_REF_PYTHON');
  for (const name of wanted) {
    const b = all.find((x) => x.name === name);
    if (!b) { console.error(`backend ${name} is not available here`); continue; }
    await printAlternated('train-vlm', b, demoStep, config, py, join(repoRoot, 'scripts/torch_vlm_step.py'), ['--threads', String(threads), '--config', torchConfig], Number(args.warmup), Number(args.steps), B * T);
  }
  process.exit(0);
}
const results: { impl: string; tokensPerS: number; medianS: number }[] = [];
for (const name of wanted) {
  const b = all.find((x) => x.name === name);
  if (!b) { console.error(`backend ${name} is not available here`); continue; }
  const r = await measure(b);
  results.push({ impl: `tessera-${name}`, tokensPerS: r.tokensPerS, medianS: r.medianS });
  console.log(JSON.stringify({ bench: 'train-vlm', impl: `tessera-${name}`, threads: b.threads, config, median_step_s: r.medianS,
    tokens_per_s: r.tokensPerS, loss_first: r.lossFirst, loss_last: r.lossLast, date: new Date().toISOString() }));
}

if (py) {
  const r = spawnSync(py, [join(repoRoot, 'scripts/torch_vlm_step.py'), '--threads', String(threads), '--steps', String(args.steps), '--warmup', String(args.warmup),
    '--config', torchConfig], { encoding: 'utf8' });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    const j = JSON.parse(line) as { tokens_per_s_median: number; median_step_s: number; loss_first: number; loss_last: number };
    results.push({ impl: 'pytorch', tokensPerS: j.tokens_per_s_median, medianS: j.median_step_s });
    console.log(JSON.stringify({ bench: 'train-vlm', impl: 'pytorch', threads, config, median_step_s: j.median_step_s, tokens_per_s: j.tokens_per_s_median,
      loss_first: j.loss_first, loss_last: j.loss_last }));
  } catch {
    console.error(`PyTorch side failed: ${r.stderr.slice(-800)}`);
  }
}

const torch = results.find((r) => r.impl === 'pytorch')?.tokensPerS;
console.log(`\n${'impl'.padEnd(20)} ${'step s'.padStart(8)} ${'tokens/s'.padStart(10)} ${torch ? 'vs pytorch'.padStart(11) : ''}`);
for (const r of results) {
  console.log(`${r.impl.padEnd(20)} ${r.medianS.toFixed(3).padStart(8)} ${r.tokensPerS.toFixed(0).padStart(10)} ${torch ? `${(r.tokensPerS / torch).toFixed(2)}x`.padStart(11) : ''}`);
}
