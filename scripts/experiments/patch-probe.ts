// Issue 5: where does the vision tower's per-patch shape reading fail? Loads a pretrain-vision run's last
// checkpoint (tower + attribute heads), reads the held-out shape records, and tallies per-patch shape accuracy
// by the (color, shape) pair covering the patch — held-out pairs apart from the pairs seen in training.
// Usage: node --import tsx scripts/experiments/patch-probe.ts <stage run dir> <model dir> <shapes.jsonl>

import { initBackend } from '../../src/backend/select.ts';
import { loadTessera } from '../../src/models/tessera/checkpoint.ts';
import { COLORS, SHAPES, isHeldoutPair, type Color, type Shape } from '../../src/data/synthetic/vocab.ts';
import { latestCheckpoint, loadCheckpoint } from '../../src/train/checkpoint.ts';
import { loadJsonl } from '../../src/train/dataset.ts';
import { AttributeModel, attributeEncoder, patchLabels, readScenes } from '../../src/train/encoder-pretrain.ts';
import { noGrad, tensor } from '../../src/tensor/index.ts';

const [run, modelDir, data] = process.argv.slice(2) as [string, string, string];
await initBackend();
const { model, processor } = loadTessera(modelDir);
const wrapper = new AttributeModel(model, 'image', 0);
loadCheckpoint(latestCheckpoint(run)!, wrapper, null);
wrapper.eval();
const v = model.config.vision!.vit, grid = v.imageSize / v.patchSize;
const { samples } = await loadJsonl(data, attributeEncoder('image', processor, readScenes(data), grid), { onBadRecord: 'fail' });
const K = patchLabels.length, nc = COLORS.length;
const tally = new Map<string, [number, number]>();
for (let i = 0; i < samples.length; i += 32) {
  const part = samples.slice(i, i + 32);
  const media = new Float32Array(part.length * part[0]!.media.length);
  part.forEach((s, j) => media.set(s.media, j * s.media.length));
  const z = noGrad(() => wrapper.heads(tensor(media, { shape: [part.length, 3, v.imageSize, v.imageSize] }), []).patch!.toFloat32Array());
  part.forEach((s, j) => {
    for (let p = 0; p < grid * grid; p++) {
      const y = s.patches!.subarray(p * K, p * K + K), zr = z.subarray((j * grid * grid + p) * K, (j * grid * grid + p + 1) * K);
      const c = y.subarray(0, nc).indexOf(1), sh = y.subarray(nc, nc + SHAPES.length).indexOf(1);
      if (c < 0 || sh < 0) continue;
      let best = nc;
      for (let k = nc; k < nc + SHAPES.length; k++) if (zr[k]! > zr[best]!) best = k;
      const pair = { color: COLORS[c] as Color, shape: SHAPES[sh] as Shape };
      const key = `${isHeldoutPair(pair) ? 'HELDOUT ' : ''}${pair.color} ${pair.shape}`;
      const t = tally.get(key) ?? [0, 0];
      t[0] += best - nc === sh ? 1 : 0; t[1]++;
      tally.set(key, t);
    }
  });
}
for (const [k, [hit, n]] of [...tally].sort()) console.log(`${k.padEnd(24)} ${(hit / n * 100).toFixed(1)}% of ${n} patches`);
