// Issue 5 experiment (with patch-words.ts): which color word and which shape word each patch row of a model's
// vision projector points at (row · embeddingᵀ over the words, a word's embedding the mean of its answer form
// "red" and caption form " red"), per (color, shape) pair on held-out shape records, against the patch's true
// labels. A model whose rows were never trained toward words reads near chance here.
// Usage: node --import tsx scripts/experiments/word-probe.ts <model dir> [held-out data dir=runs/tessera-demo/data/heldout] [records=200]

import { readFileSync } from 'node:fs';
import { initBackend } from '../../src/backend/select.ts';
import { loadTessera } from '../../src/models/tessera/checkpoint.ts';
import { COLORS, SHAPES } from '../../src/data/synthetic/vocab.ts';
import { matmul, noGrad, tensor } from '../../src/tensor/index.ts';
import { patchLabels, patchTargets, readScenes } from '../../src/train/encoder-pretrain.ts';

const [modelDir, dirArg, nArg] = process.argv.slice(2);
if (!modelDir) throw new Error('usage: word-probe.ts <model dir> [held-out data dir] [records]');
const dir = dirArg ?? 'runs/tessera-demo/data/heldout';
await initBackend();
const { model, processor } = loadTessera(modelDir);
const v = model.config.vision!, grid = v.vit.imageSize / v.vit.patchSize, side = v.vit.imageSize;
const E = model.llm.model.embed_tokens.weight, C = E.shape[1]!, e = E.toFloat32Array();
const wordDirections = (list: readonly string[]) => {
  const out = new Float32Array(list.length * C);
  list.forEach((w, i) => {
    for (const form of [w, ` ${w}`]) {
      const id = processor.tokenizer.encode(form, { addSpecialTokens: false }).ids[0]!;
      for (let c = 0; c < C; c++) out[i * C + c]! += e[id * C + c]! / 2;
    }
  });
  return tensor(out, { shape: [list.length, C] });
};
const shapeWords = wordDirections(SHAPES), colorWords = wordDirections(COLORS);
const scenes = readScenes(`${dir}/data.jsonl`);
const records = readFileSync(`${dir}/data.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; task: string; image?: string })
  .filter((r) => (r.task === 'vqa-shape' || r.task === 'caption') && r.image).slice(0, Number(nArg ?? 200));
const K = patchLabels.length, argmax = (z: Float32Array, at: number, n: number) => { let b = 0; for (let j = 1; j < n; j++) if (z[at + j]! > z[at + b]!) b = j; return b; };
const tally = new Map<string, { patches: number; shape: number; color: number }>();
for (const r of records) {
  const t = patchTargets(scenes.get(r.id)! as Parameters<typeof patchTargets>[0], grid)!;
  const pixels = await processor.imagePixels(`${dir}/${r.image}`, r.id);
  const rows = noGrad(() => model.imageFeatures(tensor(pixels, { shape: [1, 3, side, side] })).reshape([-1, C]));
  const sz = noGrad(() => matmul(rows, shapeWords.T)).toFloat32Array(), cz = noGrad(() => matmul(rows, colorWords.T)).toFloat32Array();
  for (let p = 0; p < grid * grid; p++) {
    const ci = COLORS.findIndex((c) => t[p * K + patchLabels.indexOf(c)] === 1), si = SHAPES.findIndex((s) => t[p * K + patchLabels.indexOf(s)] === 1);
    if (ci < 0 || si < 0) continue;
    const key = `${COLORS[ci]} ${SHAPES[si]}`, row = tally.get(key) ?? { patches: 0, shape: 0, color: 0 };
    row.patches++;
    if (argmax(sz, p * SHAPES.length, SHAPES.length) === si) row.shape++;
    if (argmax(cz, p * COLORS.length, COLORS.length) === ci) row.color++;
    tally.set(key, row);
  }
}
console.log(`${'pair'.padEnd(18)} patches  shape word  color word`);
for (const [k, r] of [...tally.entries()].sort()) {
  console.log(`${k.padEnd(18)} ${String(r.patches).padStart(7)}  ${`${((100 * r.shape) / r.patches).toFixed(0)}%`.padStart(10)}  ${`${((100 * r.color) / r.patches).toFixed(0)}%`.padStart(10)}`);
}
