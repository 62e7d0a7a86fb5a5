import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/select.ts';
import { loadTessera } from '../../src/models/tessera/checkpoint.ts';
import { readTaskRecords } from '../../src/eval/predict.ts';
import { noGrad, tensor } from '../../src/tensor/index.ts';
await initBackend();
const run = process.argv[2] ?? '/tmp/rq';
const recs = readTaskRecords(join(run, 'data/heldout/data.jsonl')).filter((r) => r.task === 'vqa-color').slice(0, 4);
const rms = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
for (const s of ['init', 'stages/pretrain-vision/model', 'stages/align/model', 'stages/instruct-easy/model', 'stages/instruct/model'].filter((d) => existsSync(join(run, d)))) {
  const { model, processor } = loadTessera(join(run, s));
  const px = await Promise.all(recs.map((r) => processor.imagePixels(r.images[0]!, r.id)));
  const flat = new Float32Array(px.length * px[0]!.length); px.forEach((p, i) => flat.set(p, i * p.length));
  const pix = tensor(flat, { shape: [px.length, 3, 128, 128] });
  noGrad(() => {
    const hs = model.vision!.forward(pix, model.config.vision!.featureIndex).hiddenStates;
    const proj = model.visionProjector!.forward(hs[model.config.vision!.featureIndex]!);
    const x = hs.at(-1)!.toFloat32Array();
    // between-image difference of mean-pooled features relative to their rms
    console.log(s, 'hidden rms per layer', hs.map((h) => rms(h.toFloat32Array()).toFixed(3)).join(' '), 'proj rms', rms(proj.toFloat32Array()).toFixed(3),
      'proj w1 rms', rms(model.visionProjector!.linear_1.weight.toFloat32Array()).toFixed(4), 'w2', rms(model.visionProjector!.linear_2.weight.toFloat32Array()).toFixed(4),
      'emb rms', rms(model.llm.model.embed_tokens.weight.toFloat32Array()).toFixed(4));
    void x;
  });
}
