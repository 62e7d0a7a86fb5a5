// The encoding thread (a real worker with its own processor) gives exactly the samples of encoding on this thread,
// in line order, and bad records with their own file, line and reason — conversations and preference pairs, with the
// media caches or without; a stage run with the thread trains the same weights as one without; one worker serves
// every stage of a process and does not keep it from ending.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { synthesize } from '../data/synthetic/synthesize.ts';
import { saveTessera } from '../models/tessera/checkpoint.ts';
import type { EncodedSample } from '../models/tessera/processor.ts';
import type { PreferencePair } from './dpo.ts';
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
      // one thread without the media cache, against two threads with it (each line is there four times)
      const plain = specEncoder(processor, spec, null) as (r: unknown, d: string) => Promise<EncodedSample>;
      const encode = specEncoder(processor, spec) as (r: unknown, d: string) => Promise<EncodedSample>;
      const badA: BadRecord[] = [], badB: BadRecord[] = [];
      const one = await loadJsonl(file, plain, { onBadRecord: 'skip', report: (b) => badA.push(b) });
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

test('one encoding worker serves the stages of a process, each with its own spec, and the process ends without stopping it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-encode-shared-'));
  try {
    const { model, processor } = tinyTessera(0);
    saveTessera(join(dir, 'model'), model, processor);
    await synthesize({ outDir: join(dir, 'data'), tasks: ['vqa-color', 'beeps'], n: 2, seed: 5, split: 'train', prefs: true });
    const record = JSON.parse(readFileSync(join(dir, 'data/data.jsonl'), 'utf8').split('\n')[0]!);
    const pair = JSON.parse(readFileSync(join(dir, 'data/prefs.jsonl'), 'utf8').split('\n')[0]!);
    const a = await EncodeThread.start<EncodedSample>({ modelDir: join(dir, 'model'), kind: 'conversation', maxLength: 256 });
    const b = await EncodeThread.start<PreferencePair<EncodedSample>>({ modelDir: join(dir, 'model'), kind: 'preference', maxLength: 256 });
    assert.equal(b.threadId, a.threadId);
    // each stage's requests are encoded per its own spec, though the other stage set the worker up after it
    assert.deepEqual(await a.encode(record, join(dir, 'data')), await processor.encodeRecord(record, join(dir, 'data'), { maxLength: 256 }));
    assert.ok((await b.encode(pair, join(dir, 'data'))).chosen.inputIds.length > 0);
    await a.close();
    await b.close();

    // a process that used the worker ends by itself once its work is done
    const script = `import { EncodeThread } from ${JSON.stringify(new URL('./encode-thread.ts', import.meta.url).href)};
      const t = await EncodeThread.start({ modelDir: ${JSON.stringify(join(dir, 'model'))}, kind: 'conversation', maxLength: 256 });
      const s = await t.encode(${JSON.stringify(record)}, ${JSON.stringify(join(dir, 'data'))});
      await t.close();
      console.log('encoded', s.inputIds.length);`;
    writeFileSync(join(dir, 'use-thread.mts'), script);
    const child = spawnSync(process.execPath, ['--import', 'tsx', join(dir, 'use-thread.mts')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(child.signal, null, 'the process did not end by itself');
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stdout, /^encoded \d+/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
