// Issue 5: finite-difference check of the gradient that reaches the vision tower and projector through the
// splice, on the tiny model and two vqa-color records (float32, central differences; a few entries per tensor).
import { join } from 'node:path';
import { initBackend } from '../../src/backend/select.ts';
import { tinyTessera } from '../../src/models/tessera/tiny.ts';
import { loadJsonl } from '../../src/train/dataset.ts';
import { noGrad } from '../../src/tensor/index.ts';

await initBackend();
const { model, processor } = tinyTessera(0, {}, { std: 0.1 });
const dir = process.argv[2] ?? '/tmp/st-vqa-color/data-400';
const { samples } = await loadJsonl(join(dir, 'data.jsonl'), (r, d) => processor.encodeRecord(r, d, { maxLength: 512 }), { onBadRecord: 'fail', limit: 3 });
const batch = processor.collate(samples, { padSide: 'right' });
model.train();
const loss = () => noGrad(() => model.forward(batch).loss!.item());
model.zeroGrad();
for (const [, p] of model.namedParameters()) p.requiresGrad = true;
model.forward(batch).loss!.backward();
const names = ['vision.embeddings.patch_embedding.weight', 'vision.embeddings.position_embedding.weight', 'vision.encoder.layers.1.mlp.fc2.weight',
  'visionProjector.linear_1.weight', 'visionProjector.linear_2.bias', 'llm.model.layers.0.self_attn.q_proj.weight', 'llm.model.embed_tokens.weight'];
const params = new Map(model.namedParameters());
for (const name of names) {
  const p = params.get(name);
  if (!p) { console.log(`no ${name}; have ${[...params.keys()].filter((k) => k.startsWith(name.split('.')[0]!)).slice(0, 8).join(' ')}`); continue; }
  const g = p.grad!.toFloat32Array(), w = p.storage as Float32Array;
  const idx = [0, 1, 7, Math.floor(w.length / 2), w.length - 1];
  const rows = idx.map((i) => {
    const old = w[i]!, eps = 1e-2;
    w[i] = old + eps; const up = loss(); w[i] = old - eps; const dn = loss(); w[i] = old;
    return `${g[i]!.toExponential(2)}/${((up - dn) / (2 * eps)).toExponential(2)}`;
  });
  console.log(`${name.padEnd(48)} analytic/numeric: ${rows.join('  ')}  |g| ${Math.sqrt(g.reduce((s, v) => s + v * v, 0)).toExponential(2)}`);
}
