// Issue 5 experiment: can a tiny tessera model learn ONE media task from scratch with an instruct stage
// (every part trainable)? Trains on N synthetic records of the task, then scores train + held-out records with
// their media and with blank media (the no-media baseline). If even vqa-color (6 answers) stays at chance,
// something between the pixels and the LLM is broken.
// Usage: node --import tsx scripts/experiments/single-task.ts task=vqa-color n=400 steps=300 lr=1e-3 batch=8
//        [img=32 patch=8 vh=32 vl=2 hidden=64 layers=2 std=0.02 gate=1 vlr=… plr=… out=/tmp/st]

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/select.ts';
import { synthesize } from '../../src/data/synthetic/synthesize.ts';
import type { TaskName } from '../../src/data/synthetic/vocab.ts';
import { evaluateRecords, formatReport } from '../../src/eval/evaluate.ts';
import { readTaskRecords } from '../../src/eval/predict.ts';
import { tinyTessera } from '../../src/models/tessera/tiny.ts';
import { saveTessera } from '../../src/models/tessera/checkpoint.ts';
import { loadJsonl } from '../../src/train/dataset.ts';
import { trainLoop, evaluateLoss } from '../../src/train/loop.ts';
import { AttributeModel, attributeEncoder, attributeObjective, readScenes } from '../../src/train/encoder-pretrain.ts';
import { conversationObjective } from '../../src/train/run.ts';
import { parseStage } from '../../src/train/stages.ts';

const arg = Object.fromEntries(process.argv.slice(2).map((a) => a.split('=') as [string, string]));
const num = (k: string, d: number) => (arg[k] !== undefined ? Number(arg[k]) : d);
const task = (arg.task ?? 'vqa-color') as TaskName;
const n = num('n', 400), steps = num('steps', 300), lr = num('lr', 1e-3), batch = num('batch', 8);
const out = arg.out ?? `/tmp/st-${task}`;
const be = await initBackend();
const t0 = performance.now();

const data = join(out, `data-${n}`), held = join(out, 'heldout');
if (!existsSync(join(data, 'data.jsonl'))) await synthesize({ outDir: data, tasks: [task], n, seed: 1, split: 'train' });
if (!existsSync(join(held, 'data.jsonl'))) await synthesize({ outDir: held, tasks: [task], n: 60, seed: 1001, split: 'heldout' });
const imageSize = num('img', 32);
const { model, processor } = tinyTessera(num('seed', 0), {
  hidden: num('hidden', 64), layers: num('layers', 2), heads: 4, kvHeads: 2,
  vision: { imageSize, patchSize: num('patch', 8), hidden: num('vh', 32), layers: num('vl', 2), heads: 4 }, projectorGate: num('gate', 1) === 1,
}, { std: num('std', 0.02) });
const { samples } = await loadJsonl(join(data, 'data.jsonl'), (r, dir) => processor.encodeRecord(r, dir, { maxLength: 512 }), { onBadRecord: 'fail' });
const pre = num('pre', 0);
if (pre > 0) {
  const wrapper = new AttributeModel(model, 'image', 0);
  const grid = num('patches', 1) === 1 ? imageSize / num('patch', 8) : 0;
  const enc = attributeEncoder('image', processor, readScenes(join(data, 'data.jsonl')), grid);
  const { samples: attr } = await loadJsonl(join(data, 'data.jsonl'), enc, { onBadRecord: 'fail' });
  const { samples: attrHeld } = await loadJsonl(join(held, 'data.jsonl'), attributeEncoder('image', processor, readScenes(join(held, 'data.jsonl')), grid), { onBadRecord: 'fail' });
  const objective = attributeObjective(wrapper);
  const pstage = parseStage({ name: 'pre', kind: 'pretrain-vision', trainable: ['vision', 'attributeHead'], lr: { vision: num('prelr', 2e-3), attributeHead: num('prelr', 2e-3) },
    data: [{ path: 'x', weight: 1 }], steps: pre, batchSize: 16, warmup: Math.ceil(pre / 20), seed: 0 });
  const t = performance.now();
  await trainLoop({ objective, stage: pstage, sources: [{ name: 'attr', samples: attr, weight: 1 }], runDir: join(out, `pre-${Date.now()}`), quiet: true });
  const allZero = attrHeld.reduce((s, x) => s + x.target.reduce((a, v) => a + (v === 0 ? 1 : 0), 0), 0) / (attrHeld.length * attrHeld[0]!.target.length);
  console.log(`pretrain ${pre} steps ${((performance.now() - t) / 1000 / pre).toFixed(3)} s/step; held-out ${JSON.stringify(await evaluateLoss(objective, attrHeld, 16))} all-zero label accuracy ${allZero.toFixed(3)}`);
}
const stage = parseStage({
  name: 'instruct', kind: 'instruct', trainable: ['vision', 'audio', 'visionProjector', 'audioProjector', 'llm'],
  lr: { vision: num('vlr', lr), audio: num('vlr', lr), visionProjector: num('plr', lr), audioProjector: num('plr', lr), llm: num('llr', lr) },
  data: [{ path: 'x', weight: 1 }], steps, batchSize: batch, warmup: Math.ceil(steps / 20), minLrRatio: 0.1, seed: 0,
});
mkdirSync(out, { recursive: true });
const runDir = join(out, `run-${Date.now()}`);
const t1 = performance.now();
await trainLoop({ objective: conversationObjective(model, processor), stage, sources: [{ name: task, samples, weight: 1 }], runDir, quiet: true });
const trainS = (performance.now() - t1) / 1000;
model.eval();
saveTessera(join(out, 'model'), model, processor);
const predictor = { model, processor, maxNewTokens: 6 };
const trainRep = await evaluateRecords(predictor, readTaskRecords(join(data, 'data.jsonl'), 60), { data: 'train' });
const heldRep = await evaluateRecords(predictor, readTaskRecords(join(held, 'data.jsonl')), { data: 'heldout' });
console.log(`${JSON.stringify(arg)} backend ${be.name}; ${(trainS / steps).toFixed(3)} s/step; total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
console.log(formatReport(trainRep));
console.log(formatReport(heldRep));
