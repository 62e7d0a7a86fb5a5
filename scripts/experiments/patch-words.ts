// Issue 5 experiment: put the vision projector's patch rows in word space. With the LLM's embeddings tied to its
// output layer, a patch row close to e(color) + e(shape) raises those words' logits by attention copying alone,
// a path that does not care which color goes with which shape (DEVELOPERS.md: the held-out pairs). This trains
// only the vision projector, on freshly drawn shape scenes (the train split's pairs), with a cross-entropy of
// each labelled patch row against the color words and against the shape words (row · embeddingᵀ over the words;
// a word's embedding is the mean of its answer form "red" and its caption form " red"), the tower and the LLM
// frozen. Writes a tessera model folder for the stages after it (align, instruct-easy, instruct).
// Usage: node --import tsx scripts/experiments/patch-words.ts <model dir> <run dir> [steps=400] [batch=32] [lr=1e-3]

import { join } from 'node:path';
import { initBackend } from '../../src/backend/select.ts';
import { loadTessera, saveTessera } from '../../src/models/tessera/checkpoint.ts';
import { COLORS, SHAPES } from '../../src/data/synthetic/vocab.ts';
import { crossEntropy, matmul, noGrad, tensor, type Tensor } from '../../src/tensor/index.ts';
import { freshImageSamples, patchLabels, type AttributeSample } from '../../src/train/encoder-pretrain.ts';
import { trainLoop } from '../../src/train/loop.ts';
import type { Objective } from '../../src/train/objective.ts';
import { parseStage } from '../../src/train/stages.ts';

const [modelDir, runDir, stepsArg, batchArg, lrArg] = process.argv.slice(2);
if (!modelDir || !runDir) throw new Error('usage: patch-words.ts <model dir> <run dir> [steps] [batch] [lr]');
await initBackend();
const { model, processor } = loadTessera(modelDir);
const v = model.config.vision!;
const grid = v.vit.imageSize / v.vit.patchSize;
const E = model.llm.model.embed_tokens.weight; // [V, C], frozen

/** [W, C] word directions: the mean embedding of the answer form and the caption form of each word. */
function words(list: readonly string[]): Tensor {
  return noGrad(() => {
    const C = E.shape[1]!, e = E.toFloat32Array(), out = new Float32Array(list.length * C);
    list.forEach((w, i) => {
      for (const form of [w, ` ${w}`]) {
        const { ids } = processor.tokenizer.encode(form, { addSpecialTokens: false });
        if (ids.length !== 1) throw new Error(`"${form}" is ${ids.length} tokens, not one`);
        for (let c = 0; c < C; c++) out[i * C + c]! += e[ids[0]! * C + c]! / 2;
      }
    });
    return tensor(out, { shape: [list.length, C] });
  });
}
const colorWords = words(COLORS), shapeWords = words(SHAPES);
const K = patchLabels.length, colorAt = patchLabels.indexOf(COLORS[0]!), shapeAt = patchLabels.indexOf(SHAPES[0]!);

interface Batch { pixels: Tensor; color: Tensor; shape: Tensor; labelled: number }

/** Per patch the index of its label within [at, at + n), or -100 (no object there). */
function targets(s: readonly AttributeSample[], at: number, n: number): Int32Array {
  const N = grid * grid, t = new Int32Array(s.length * N).fill(-100);
  s.forEach((x, i) => {
    for (let p = 0; p < N; p++) for (let j = 0; j < n; j++) if (x.patches![p * K + at + j] === 1) t[i * N + p] = j;
  });
  return t;
}

const objective: Objective<AttributeSample, Batch> = {
  model,
  collate: (s) => {
    const n = s[0]!.media.length, pixels = new Float32Array(s.length * n);
    s.forEach((x, i) => pixels.set(x.media, i * n));
    const side = Math.round(Math.sqrt(n / 3));
    const color = targets(s, colorAt, COLORS.length), shape = targets(s, shapeAt, SHAPES.length);
    return {
      pixels: tensor(pixels, { shape: [s.length, 3, side, side] }),
      color: tensor(color, { shape: [color.length], dtype: 'int32' }), shape: tensor(shape, { shape: [shape.length], dtype: 'int32' }),
      labelled: color.filter((t) => t >= 0).length,
    };
  },
  units: (b) => Math.max(1, b.labelled),
  tokens: (b) => b.pixels.size,
  lossSum: (b) => {
    const rows = model.imageFeatures(b.pixels); // [B, N, C]
    const flat = rows.reshape([-1, rows.shape[2]!]);
    const cz = matmul(flat, colorWords.T), sz = matmul(flat, shapeWords.T);
    const loss = crossEntropy(cz, b.color, { reduction: 'sum' }).add(crossEntropy(sz, b.shape, { reduction: 'sum' }));
    const hits = noGrad(() => {
      const acc = (z: Tensor, t: Tensor, W: number) => {
        const zs = z.toFloat32Array(), ts = t.toList();
        let h = 0;
        ts.forEach((y, r) => {
          if (y < 0) return;
          let best = 0;
          for (let j = 1; j < W; j++) if (zs[r * W + j]! > zs[r * W + best]!) best = j;
          if (best === y) h++;
        });
        return h;
      };
      return { color: acc(cz, b.color, COLORS.length), shape: acc(sz, b.shape, SHAPES.length) };
    });
    return { loss, sums: { color_word_accuracy: hits.color, shape_word_accuracy: hits.shape } };
  },
};

const steps = Number(stepsArg ?? 400), batch = Number(batchArg ?? 32), lr = Number(lrArg ?? 1e-3);
const stage = parseStage({
  name: 'patch-words', kind: 'align', trainable: ['visionProjector'], lr: { visionProjector: lr }, data: [{ path: 'generate:shapes', weight: 1 }],
  steps, batchSize: batch, warmup: Math.ceil(steps / 20), checkpointEvery: steps, seed: 0,
});
await trainLoop({ objective, stage, sources: [{ name: 'generate:shapes', samples: freshImageSamples('shapes', processor, grid, 0, steps * batch), weight: 1 }], runDir });
saveTessera(join(runDir, 'model'), model, processor);
console.log(JSON.stringify({ model: join(runDir, 'model') }));
