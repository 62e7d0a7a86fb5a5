// Issue 5 experiment: a model of the recipe's sizes with another number of key/value heads, its vision tower and
// audio encoder copied from a pretrained model (the towers do not depend on the LLM), the LLM freshly initialised
// (train it with the recipe's pretrain-text stage next). Used to ask whether GQA's two key/value heads keep the
// decoder from choosing the named object (DEVELOPERS.md, session 13: they do not).
// Usage: node --import tsx scripts/experiments/kv-heads.ts <model dir with pretrained towers> <recipe.json> <kv heads> <out dir>

import { readFileSync } from 'node:fs';
import { initBackend } from '../../src/backend/select.ts';
import { initTessera, loadTessera, saveTessera } from '../../src/models/tessera/checkpoint.ts';
import { tesseraConfigFromSizes } from '../../src/models/tessera/config.ts';
import type { Recipe } from '../../src/train/recipes/recipe.ts';

const [src, recipePath, kv, out] = process.argv.slice(2) as [string, string, string, string];
await initBackend();
const { model: old, processor } = loadTessera(src);
const m = (JSON.parse(readFileSync(recipePath, 'utf8')) as Recipe).model;
const config = tesseraConfigFromSizes({ vocabSize: old.config.text.vocabSize, imageTokenId: processor.imageTokenId, audioTokenId: processor.audioTokenId,
  hidden: m.hidden, layers: m.layers, heads: m.heads, kvHeads: Number(kv), maxPositions: m.maxPositions, vision: m.vision, audio: m.audio });
const model = initTessera(config, 1, { std: m.initStd });
const towers = new Map([...old.namedParameters()]);
let copied = 0;
for (const [name, p] of model.namedParameters()) {
  if (!/^(vision|audio)\./.test(name)) continue;
  (p.storage as Float32Array).set(towers.get(name)!.storage as Float32Array);
  copied++;
}
saveTessera(out, model, processor);
console.log(`${out}: ${kv} key/value heads, ${copied} tower tensors copied from ${src}`);
