// The encoding thread (a real worker with its own processor) gives exactly the samples of encoding on this thread,
// in line order, and bad records with their own file, line and reason — conversations and preference pairs; a stage
// run with the thread trains the same weights as one without.

import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { synthesize } from '../data/synthetic/synthesize.ts';
import { saveTessera } from '../models/tessera/checkpoint.ts';
import type { EncodedSample } from '../models/tessera/processor.ts';
import { tinyTessera } from '../models/tessera/tiny.ts';
import { loadJsonl, type BadRecord } from './dataset.ts';
import { EncodeThread, specEncoder, type EncodeSpec } from './encode-thread.ts';
import { runStage } from './run.ts';
import { parseStage } from './stages.ts';

test('records encoded with the encoding thread equal those encoded on one thread, bad records included', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-encode-'));
  try {
    const { model, processor } = tinyTessera(0);
    saveTessera(join(dir, 'model'), model, processor);
    await synthesize({ outDir: join(dir, 'data'), tasks: ['vqa-color', 'beeps', 'cross-count', 'tool'], n: 12, seed: 3, split: 'train', prefs: true });
    const data = join(dir, 'data/data.jsonl');
    // more than one window each way, and bad lines on both threads' shares: a missing image, invalid JSON
    const lines = readFileSync(data, 'utf8').trim().split('\n');
    const broken = JSON.stringify({ ...JSON.parse(lines[0]!), id: 'missing', image: 'img/none.png' });
    writeFileSync(data, [...lines, ...lines, broken, ...lines, '{not json', ...lines].join('\n') + '\n');
    appendFileSync(data, `${broken}\n`);

    for (const [kind, file] of [['conversation', data], ['preference', join(dir, 'data/prefs.jsonl')]] as const) {
      const spec: EncodeSpec = { modelDir: join(dir, 'model'), kind, maxLength: 256 };
      const encode = specEncoder(processor, spec) as (r: unknown, d: string) => Promise<EncodedSample>;
      const badA: BadRecord[] = [], badB: BadRecord[] = [];
      const one = await loadJsonl(file, encode, { onBadRecord: 'skip', report: (b) => badA.push(b) });
      const thread = await EncodeThread.start<EncodedSample>(spec);
      let viaThread = 0;
      try {
        const two = await loadJsonl(file, encode, { onBadRecord: 'skip', report: (b) => badB.push(b),
          helper: (r, d) => { viaThread++; return thread.encode(r, d); } });
        assert.ok(one.samples.length >= 48, `${kind}: ${one.samples.length} samples`);
        assert.ok(viaThread > one.samples.length / 2, `${kind}: the thread encoded ${viaThread} of ${one.samples.length}`);
        assert.deepEqual(two.samples, one.samples, kind);
        assert.deepEqual(badB, badA, kind);
        assert.deepEqual(two.summary, one.summary, kind);
      } finally {
        await thread.close();
      }
      if (kind === 'conversation') {
        assert.deepEqual(badA.map((b) => b.line), [lines.length * 2 + 1, lines.length * 3 + 2, lines.length * 4 + 3]);
        assert.match(badA[0]!.reason, /record missing: image img\/none\.png/);
        assert.match(badA[1]!.reason, /invalid JSON/);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an encoding thread that cannot load its model folder fails to start, naming why', async () => {
  await assert.rejects(EncodeThread.start({ modelDir: join(tmpdir(), 'no-such-tessera-model'), kind: 'conversation', maxLength: 64 }),
    /the encoding thread did not start: .*no-such-tessera-model/);
});

test('an instruct stage whose records are encoded with the encoding thread trains the same weights as on one thread', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-encode-stage-'));
  try {
    const { model, processor } = tinyTessera(0);
    saveTessera(join(dir, 'init'), model, processor);
    await synthesize({ outDir: join(dir, 'data'), tasks: ['vqa-color', 'beeps', 'tool'], n: 12, seed: 4, split: 'train' });
    const stage = parseStage({ name: 'instruct', kind: 'instruct', trainable: ['visionProjector', 'audioProjector', 'llm'],
      lr: { visionProjector: 1e-3, audioProjector: 1e-3, llm: 1e-3 }, data: [{ path: 'data/data.jsonl' }], steps: 3, batchSize: 4, maxLength: 256 });
    const run = (encodeThread: boolean) => runStage({ stage, outDir: join(dir, `run-${encodeThread}`), modelDir: join(dir, 'init'), baseDir: dir, quiet: true, encodeThread });
    const one = await run(false), two = await run(true);
    assert.equal(one.encodeThreads, 1);
    assert.equal(two.encodeThreads, 2);
    assert.equal(two.lastLoss, one.lastLoss);
    assert.ok(readFileSync(join(two.modelDir, 'model.safetensors')).equals(readFileSync(join(one.modelDir, 'model.safetensors'))), 'same weights');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
