// Times the encoding of one stage's records (what runStage does before the first step): every data file of the
// demo recipe's instruct stage through TesseraProcessor.encodeRecord, in one process.
// Usage: node --import tsx scripts/experiments/encode-time.ts <model dir> <run data dir> [stage name] [out.json]
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TesseraProcessor } from '../../src/models/tessera/processor.ts';
import { getRecipe } from '../../src/train/recipes/presets.ts';
import { loadJsonl } from '../../src/train/dataset.ts';

const [modelDir, dataDir, stageName = 'instruct', out] = process.argv.slice(2);
if (!modelDir || !dataDir) throw new Error('usage: encode-time.ts <model dir> <run data dir> [stage] [out.json]');
const processor = TesseraProcessor.fromDir(modelDir);
const stage = getRecipe('demo').stages.find((s) => s.name === stageName);
if (!stage) throw new Error(`no stage ${stageName}`);
const t0 = performance.now();
const all: unknown[] = [];
for (const d of stage.data) {
  const t = performance.now();
  const { samples } = await loadJsonl(join(dataDir, d.path), (r, dir) => processor.encodeRecord(r, dir, { maxLength: 384 }), { onBadRecord: 'fail' });
  console.log(`${d.path}: ${samples.length} records, ${((performance.now() - t) / 1000).toFixed(1)} s`);
  if (out) all.push(...samples.map((s) => [s.id, s.inputIds, s.labels, s.audioLengths]));
}
console.log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
if (out) writeFileSync(out, JSON.stringify(all));
