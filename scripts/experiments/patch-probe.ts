// Issue 5: where does the vision tower's per-patch reading fail? Loads a pretrain-vision run's last checkpoint
// (tower + attribute heads), reads held-out records, and tallies per patch: on shape scenes the shape read, by
// the (color, shape) pair covering the patch (held-out pairs apart from the pairs seen in training); on charts
// the bar value read on bar patches and on letter patches, and the scale level where the heads have one; on
// object patches each box edge (exactly, and within one 5% step); on text the character and its place in the word.
// Usage: node --import tsx scripts/experiments/patch-probe.ts <stage run dir> <model dir> <records.jsonl> [tower model dir]
// With a tower model dir, the heads of the run read that model's vision tower instead of the run's own (e.g.
// how much of what pretraining taught survives a later stage that trains the tower).

import { initBackend } from '../../src/backend/select.ts';
import { loadTessera } from '../../src/models/tessera/checkpoint.ts';
import { COLORS, SHAPES, isHeldoutPair, type Color, type Shape } from '../../src/data/synthetic/vocab.ts';
import { latestCheckpoint, loadCheckpoint } from '../../src/train/checkpoint.ts';
import { loadJsonl } from '../../src/train/dataset.ts';
import { AttributeModel, attributeEncoder, patchLabels, readScenes } from '../../src/train/encoder-pretrain.ts';
import { noGrad, tensor } from '../../src/tensor/index.ts';

const [run, modelDir, data, towerDir] = process.argv.slice(2) as [string, string, string, string | undefined];
await initBackend();
const { model, processor } = loadTessera(modelDir);
const wrapper = new AttributeModel(model, 'image', 0);
loadCheckpoint(latestCheckpoint(run)!, wrapper, null);
if (towerDir) {
  const tower = new Map([...loadTessera(towerDir).model.namedParameters()]);
  for (const [name, p] of wrapper.namedParameters()) {
    if (name.startsWith('vision.')) (p.storage as Float32Array).set(tower.get(name)!.storage as Float32Array);
  }
}
wrapper.eval();
const v = model.config.vision!.vit, grid = v.imageSize / v.patchSize;
const { samples } = await loadJsonl(data, attributeEncoder('image', processor, readScenes(data), grid), { onBadRecord: 'fail' });
const K = patchLabels.length;
const group = (prefix: string) => patchLabels.flatMap((l, k) => (l.startsWith(prefix) ? [k] : []));
const colors = COLORS.map((c) => patchLabels.indexOf(c)), shapes = SHAPES.map((s) => patchLabels.indexOf(s)), values = group('value '), chars = group('char '), levels = group('level ');
const edges = ['left', 'top', 'right', 'bottom'].map((e) => group(`${e} `)), places = group('index ');
const tally = new Map<string, [number, number]>();
const count = (key: string, hit: boolean) => {
  const t = tally.get(key) ?? [0, 0];
  t[0] += hit ? 1 : 0; t[1]++;
  tally.set(key, t);
};
const argmax = (z: Float32Array, ks: readonly number[]) => ks.reduce((b, k) => (z[k]! > z[b]! ? k : b), ks[0]!);
for (let i = 0; i < samples.length; i += 32) {
  const part = samples.slice(i, i + 32);
  const media = new Float32Array(part.length * part[0]!.media.length);
  part.forEach((s, j) => media.set(s.media, j * s.media.length));
  const z = noGrad(() => wrapper.heads(tensor(media, { shape: [part.length, 3, v.imageSize, v.imageSize] }), []).patch!.toFloat32Array());
  part.forEach((s, j) => {
    for (let p = 0; p < grid * grid; p++) {
      const y = s.patches!.subarray(p * K, p * K + K), zr = z.subarray((j * grid * grid + p) * K, (j * grid * grid + p + 1) * K);
      const labelled = (ks: readonly number[]) => ks.find((k) => y[k] === 1);
      const c = labelled(colors), sh = labelled(shapes);
      if (c !== undefined && sh !== undefined) {
        const pair = { color: patchLabels[c] as Color, shape: patchLabels[sh] as Shape };
        count(`${isHeldoutPair(pair) ? 'HELDOUT ' : ''}${pair.color} ${pair.shape}`, argmax(zr, shapes) === sh);
      }
      if (labelled(values) !== undefined) count(labelled(chars) !== undefined ? 'value on letter patches' : 'value on bar patches', y[argmax(zr, values)] === 1);
      if (levels.length > 0 && labelled(levels) !== undefined) count('scale level', y[argmax(zr, levels)] === 1);
      for (const ks of edges) {
        const t = labelled(ks);
        if (t === undefined) continue;
        const off = Math.abs(argmax(zr, ks) - t);
        count('box edge exact', off === 0);
        count('box edge within 5%', off <= 1);
      }
      const ch = labelled(chars);
      if (ch !== undefined && labelled(values) === undefined) count('ocr character', argmax(zr, chars) === ch);
      if (places.length > 0 && labelled(places) !== undefined) count('ocr place in word', y[argmax(zr, places)] === 1);
    }
  });
}
for (const [k, [hit, n]] of [...tally].sort()) console.log(`${k.padEnd(24)} ${(hit / n * 100).toFixed(1)}% of ${n} patches`);
