// Issue 5 experiment: the held-out vqa answers follow the question's prior (a training "What color is the
// triangle?" is never answered "purple", so the model never says it; DEVELOPERS.md, session 13). Product of experts
// with a question-only model (Clark et al. 2019, "Don't take the easy way out"; He et al. 2019): a bag-of-tokens
// linear model reads only the text before each position and learns the answer prior on its own loss; the main
// model is trained on log p_main + log p_prior (prior held fixed), so it need not carry the prior itself; at test
// time the main model answers alone. `poe=0` trains the same records with the plain loss, for comparison.
// Usage: node --import tsx scripts/experiments/poe.ts <model dir> <data root> <out dir> poe=1 steps=800 plr=5e-3 files=a.jsonl,b.jsonl

import { join } from 'node:path';
import { initBackend } from '../../src/backend/select.ts';
import { loadTessera, saveTessera } from '../../src/models/tessera/checkpoint.ts';
import type { TesseraBatch } from '../../src/models/tessera/model.ts';
import type { EncodedSample } from '../../src/models/tessera/processor.ts';
import { Module, parameter } from '../../src/nn/module.ts';
import { logSoftmax, noGrad, tensor, type Tensor } from '../../src/tensor/index.ts';
import { loadJsonl } from '../../src/train/dataset.ts';
import { trainLoop } from '../../src/train/loop.ts';
import { lmLossSum, type Objective } from '../../src/train/objective.ts';
import { parseStage } from '../../src/train/stages.ts';

const [modelDir, root, out, ...rest] = process.argv.slice(2) as [string, string, string, ...string[]];
const arg = Object.fromEntries(rest.map((a) => a.split('=') as [string, string]));
const poe = arg.poe !== '0', steps = Number(arg.steps ?? 800);
await initBackend();
const { model, processor } = loadTessera(modelDir);
const V = model.config.text.vocabSize;
const media = new Set([processor.imageTokenId, processor.audioTokenId]);

class Prior extends Module {
  weight = parameter([V, V], () => 0);
  bias = parameter([V], () => 0);
}
class PoeModel extends Module {
  llm = model.llm;
  vision = model.vision;
  visionProjector = model.visionProjector;
  audio = model.audio;
  audioProjector = model.audioProjector;
  /** The question-only model: mean one-hot of the text tokens so far [V] → answer logits [V]. */
  answerPrior = new Prior();
}
const wrapper = new PoeModel();

/** [B·T, V]: at each position the mean one-hot of the non-media, non-pad tokens up to and including it. */
function bags(b: TesseraBatch): Tensor {
  const [B, T] = b.inputIds.shape as [number, number];
  const ids = b.inputIds.toList() as number[], mask = b.attentionMask.toList() as number[];
  const x = new Float32Array(B * T * V);
  for (let i = 0; i < B; i++) {
    const counts = new Float32Array(V);
    let n = 0;
    for (let t = 0; t < T; t++) {
      const id = ids[i * T + t]!;
      if (mask[i * T + t] && !media.has(id)) { counts[id]!++; n++; }
      if (n > 0) for (let v = 0; v < V; v++) x[(i * T + t) * V + v] = counts[v]! / n;
    }
  }
  return tensor(x, { shape: [B * T, V] });
}

const objective: Objective<EncodedSample, TesseraBatch> = {
  model: wrapper,
  collate: (s) => processor.collate(s, { padSide: 'right' }),
  units: (b) => (b.labels!.toList() as number[]).filter((l) => l !== -100).length,
  tokens: (b) => (b.attentionMask.toList() as number[]).reduce((n, v) => n + v, 0),
  lossSum: (b) => {
    const logits = model.forward(b).logits; // [B, T, V]
    if (!poe) return { loss: lmLossSum(logits, b.labels!) };
    const shape = logits.shape as [number, number, number];
    const prior = bags(b).matmul(wrapper.answerPrior.weight).add(wrapper.answerPrior.bias).reshape(shape);
    const fixed = tensor(noGrad(() => logSoftmax(prior, -1).toFloat32Array()).slice(), { shape });
    const main = lmLossSum(logSoftmax(logits, -1).add(fixed), b.labels!), own = lmLossSum(prior, b.labels!);
    return { loss: main.add(own), sums: { prior_loss: own.item() } };
  },
};

const files = (arg.files ?? '').split(',').filter(Boolean);
const sources = [];
for (const f of files) {
  const { samples } = await loadJsonl(join(root, f), (r, dir) => processor.encodeRecord(r, dir, { maxLength: 384 }), { onBadRecord: 'fail' });
  sources.push({ name: f, samples, weight: 1 });
}
const stage = parseStage({
  name: poe ? 'poe' : 'plain', kind: 'instruct', trainable: ['visionProjector', 'llm', 'answerPrior'],
  lr: { visionProjector: 5e-4, llm: 5e-4, answerPrior: Number(arg.plr ?? 5e-3) }, data: files.map((path) => ({ path, weight: 1 })),
  steps, batchSize: 8, warmup: Math.ceil(steps / 20), minLrRatio: 0.1, seed: 0,
});
await trainLoop({ objective, stage, sources, runDir: join(out, 'run'), quiet: false, progressEvery: 100 });
model.eval();
saveTessera(join(out, 'model'), model, processor);
console.log(`saved ${join(out, 'model')}`);
