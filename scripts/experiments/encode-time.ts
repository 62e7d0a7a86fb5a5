// Times the encoding of one stage's records (what runStage does before the first step): every data file of the
// demo recipe's instruct stage through TesseraProcessor.encodeRecord, in one process.
// Usage: node --import tsx scripts/experiments/encode-time.ts <model dir> <run data dir> [stage name] [out.json] [threads=1|2]
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TesseraProcessor } from '../../src/models/tessera/processor.ts';
import { getRecipe } from '../../src/train/recipes/presets.ts';
import { loadJsonl } from '../../src/train/dataset.ts';
import { EncodeThread, specEncoder } from '../../src/train/encode-thread.ts';
import type { EncodedSample } from '../../src/models/tessera/processor.ts';

const [modelDir, dataDir, stageName = 'instruct', out, threads = 'threads=1'] = process.argv.slice(2);
if (!modelDir || !dataDir) throw new Error('usage: encode-time.ts <model dir> <run data dir> [stage] [out.json]');
const processor = TesseraProcessor.fromDir(modelDir);
const stage = getRecipe('demo').stages.find((s) => s.name === stageName);
if (!stage) throw new Error(`no stage ${stageName}`);
const spec = { modelDir, kind: 'conversation', maxLength: 384 } as const;
const encode = specEncoder(processor, spec) as (r: unknown, dir: string) => Promise<EncodedSample>;
const t0 = performance.now();
const thread = threads === 'threads=2' ? await EncodeThread.start<EncodedSample>(spec) : null;
const helper = thread ? (r: unknown, dir: string) => thread.encode(r, dir) : undefined;
const all: unknown[] = [];
for (const d of stage.data) {
  const t = performance.now();
  const { samples } = await loadJsonl(join(dataDir, d.path), encode, { onBadRecord: 'fail', helper });
  console.log(`${d.path}: ${samples.length} records, ${((performance.now() - t) / 1000).toFixed(1)} s`);
  if (out) all.push(...samples.map((s) => [s.id, s.inputIds, s.labels, s.audioLengths]));
}
await thread?.close();
console.log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
if (out) writeFileSync(out, JSON.stringify(all));
