// Conversation files kept encoded between stages (encoded-files.ts): a later stage that reads the same file under
// the same processor and length limit takes the earlier stage's samples instead of encoding them again, and trains
// the same weights as it would have; a changed file, another length limit or another processor is encoded anew.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthesize } from '../data/synthetic/synthesize.ts';
import { saveTessera } from '../models/tessera/checkpoint.ts';
import { tinyTessera } from '../models/tessera/tiny.ts';
import { EncodedFiles } from './encoded-files.ts';
import { runStage } from './run.ts';
import { parseStage } from './stages.ts';

test('a later stage takes the files an earlier one encoded and trains the same weights', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-encoded-files-'));
  try {
    const { model, processor } = tinyTessera(0);
    saveTessera(join(dir, 'init'), model, processor);
    await synthesize({ outDir: join(dir, 'data'), tasks: ['vqa-color', 'beeps'], n: 6, seed: 3, split: 'train' });
    const file = join(dir, 'data/data.jsonl');
    const stage = (name: string, maxLength = 256) => parseStage({ name, kind: 'instruct', trainable: ['visionProjector', 'audioProjector', 'llm'],
      lr: { visionProjector: 1e-3, audioProjector: 1e-3, llm: 1e-3 }, data: [{ path: 'data/data.jsonl' }], steps: 2, batchSize: 4, maxLength });
    const settings = (maxLength = 256) => EncodedFiles.settings(join(dir, 'init'), `conversation ${maxLength} skip`);
    const run = (name: string, from: string, encodedFiles?: EncodedFiles, maxLength = 256) =>
      runStage({ stage: stage(name, maxLength), outDir: join(dir, name), modelDir: from, baseDir: dir, quiet: true, encodeThread: false, ...(encodedFiles ? { encodedFiles } : {}) });

    const store = new EncodedFiles();
    const first = await run('first', join(dir, 'init'), store);
    const kept = store.get(file, settings());
    assert.ok(kept, 'the first stage kept its file');
    assert.equal(kept.summary.kept, 12);
    const second = await run('second', first.modelDir, store);
    assert.equal(store.get(file, settings())!.samples, kept.samples, 'the second stage took the kept samples, not new ones');
    const fresh = await run('fresh', first.modelDir);
    assert.equal(second.lastLoss, fresh.lastLoss);
    assert.ok(readFileSync(join(second.modelDir, 'model.safetensors')).equals(readFileSync(join(fresh.modelDir, 'model.safetensors'))), 'same weights as encoding anew');

    assert.equal(store.get(file, settings(128)), null, 'another length limit is another encoding');
    await run('short', first.modelDir, store, 200);
    assert.notEqual(store.get(file, EncodedFiles.settings(join(dir, 'init'), 'conversation 200 skip')), null);

    appendFileSync(file, readFileSync(file, 'utf8').split('\n')[0] + '\n');
    assert.equal(store.get(file, settings()), null, 'a changed file is not served from the store');
    await run('changed', first.modelDir, store);
    assert.equal(store.get(file, settings())!.summary.kept, 13);

    store.retain(new Set());
    assert.equal(store.size, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the settings name the processor: another tokenizer is another encoding', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-encoded-settings-'));
  try {
    const a = tinyTessera(0), b = tinyTessera(0, {}, { std: 0.2, jitter: 0.1 });
    saveTessera(join(dir, 'a'), a.model, a.processor);
    saveTessera(join(dir, 'b'), b.model, b.processor);
    // the weights differ, the processor files do not
    assert.equal(EncodedFiles.settings(join(dir, 'a'), 'x'), EncodedFiles.settings(join(dir, 'b'), 'x'));
    appendFileSync(join(dir, 'b', 'chat_template.jinja'), '\n');
    assert.notEqual(EncodedFiles.settings(join(dir, 'a'), 'x'), EncodedFiles.settings(join(dir, 'b'), 'x'));
    assert.notEqual(EncodedFiles.settings(join(dir, 'a'), 'x'), EncodedFiles.settings(join(dir, 'a'), 'y'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
