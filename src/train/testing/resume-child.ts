// Test support: a training run in its own process, for the kill-and-resume test.
//   node --import tsx src/train/testing/resume-child.ts RUN_DIR [--resume] [--delay-ms N]
// Trains the tiny seeded CausalLM for 30 steps with a checkpoint every 5; --delay-ms slows each step (not
// the math) so a parent can kill it mid-run.

import { trainLoop } from '../loop.ts';
import { tinyCorpus, tinyLm, tinyObjective } from './tiny-lm.ts';

const [runDir, ...rest] = process.argv.slice(2);
if (!runDir) throw new Error('usage: resume-child.ts RUN_DIR [--resume] [--delay-ms N]');
const delayAt = rest.indexOf('--delay-ms');
const delay = delayAt >= 0 ? Number(rest[delayAt + 1]) : 0;
const model = tinyLm(4);
const objective = tinyObjective(model);
const slowed = delay > 0 ? { ...objective, collate: (s: Parameters<typeof objective.collate>[0]) => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, delay); return objective.collate(s); } } : objective;
await trainLoop({
  objective: slowed,
  stage: {
    name: 'child', steps: 30, batchSize: 3, gradAccum: 2, warmup: 3, minLrRatio: 0.1, weightDecay: 0.01, clip: 1, evalEvery: 0,
    checkpointEvery: 5, keepLast: 2, seed: 7, trainable: ['model', 'lm_head'], lr: { model: 1e-2, lm_head: 5e-3 },
  },
  sources: [{ name: 'a', samples: tinyCorpus(20, 1), weight: 2 }, { name: 'b', samples: tinyCorpus(7, 2), weight: 1 }],
  runDir,
  resume: rest.includes('--resume'),
  progressEvery: 5,
});
