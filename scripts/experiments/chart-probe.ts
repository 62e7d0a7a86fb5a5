// Issue 5: how well does a pretrain-vision run's tower read charts? Loads the run's last checkpoint (tower +
// attribute heads) and, on chart records (held-out: their styles include the held-out one), tallies per patch
// the bar value read on bar patches, on letter patches, and (where the heads have it) the scale level.
// Usage: node --import tsx scripts/experiments/chart-probe.ts <stage run dir> <model dir> <charts.jsonl>

import { initBackend } from '../../src/backend/select.ts';
import { loadTessera } from '../../src/models/tessera/checkpoint.ts';
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
const K = patchLabels.length;
const range = (prefix: string) => patchLabels.flatMap((l, k) => (l.startsWith(prefix) ? [k] : []));
const values = range('value '), chars = range('char '), levels = range('level ');
const tally: Record<string, [number, number]> = {};
const count = (key: string, hit: boolean) => { const t = (tally[key] ??= [0, 0]); t[0] += hit ? 1 : 0; t[1]++; };
const argmax = (z: Float32Array, ks: number[]) => ks.reduce((b, k) => (z[k]! > z[b]! ? k : b), ks[0]!);
for (let i = 0; i < samples.length; i += 32) {
  const part = samples.slice(i, i + 32);
  const media = new Float32Array(part.length * part[0]!.media.length);
  part.forEach((s, j) => media.set(s.media, j * s.media.length));
  const z = noGrad(() => wrapper.heads(tensor(media, { shape: [part.length, 3, v.imageSize, v.imageSize] }), []).patch!.toFloat32Array());
  part.forEach((s, j) => {
    for (let p = 0; p < grid * grid; p++) {
      const y = s.patches!.subarray(p * K, p * K + K), zr = z.subarray((j * grid * grid + p) * K, (j * grid * grid + p + 1) * K);
      const labelled = (ks: number[]) => ks.some((k) => y[k] === 1);
      if (labelled(values)) count(labelled(chars) ? 'value on letter patches' : 'value on bar patches', y[argmax(zr, values)] === 1);
      if (levels.length > 0 && labelled(levels)) count('scale level', y[argmax(zr, levels)] === 1);
    }
  });
}
for (const [k, [hit, n]] of Object.entries(tally)) console.log(`${k.padEnd(24)} ${(hit / n * 100).toFixed(1)}% of ${n} patches`);
