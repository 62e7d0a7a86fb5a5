// The media cache reads a file once while it stays the same, again when it is rewritten, never keeps what failed
// to load or what is past its budget, and hands out kept features as copies.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MediaCache } from './media-cache.ts';

test('a file is loaded once while unchanged, again once rewritten; failures and files past the budget are not kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-media-cache-'));
  try {
    const path = join(dir, 'a.png');
    writeFileSync(path, 'one');
    const cache = new MediaCache(1000);
    let loads = 0;
    const load = (n: number) => async () => { loads++; return { width: 1, height: 1, data: new Uint8Array(n) }; };
    const first = await cache.image(path, load(3));
    assert.equal(await cache.image(path, load(3)), first);
    assert.equal(loads, 1);
    assert.deepEqual([cache.hits, cache.misses, cache.size], [1, 1, 3]);
    writeFileSync(path, 'other bytes'); // another size: another file
    assert.notEqual(await cache.image(path, load(3)), first);
    assert.equal(loads, 2);

    // a file that cannot be read: load runs (and names the error) every time
    await assert.rejects(cache.image(join(dir, 'none.png'), () => Promise.reject(new Error('cannot read none.png'))), /cannot read none\.png/);
    // a load that fails is tried again next time
    const bad = join(dir, 'bad.png');
    writeFileSync(bad, 'x');
    await assert.rejects(cache.image(bad, () => Promise.reject(new Error('corrupt'))), /corrupt/);
    assert.equal((await cache.image(bad, load(3))).data.length, 3);

    // past the budget: loaded every time
    const big = join(dir, 'big.png');
    writeFileSync(big, 'big');
    await cache.image(big, load(2000));
    await cache.image(big, load(2000));
    assert.equal(loads, 5);
    assert.ok(cache.size <= 1000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kept audio features are handed out as copies, per extractor settings', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-media-cache-'));
  try {
    const path = join(dir, 'a.wav');
    writeFileSync(path, 'wav');
    const cache = new MediaCache(1 << 20);
    let loads = 0;
    const load = async () => { loads++; return { features: Float32Array.from([1, 2, 3]), length: 3 }; };
    const a = await cache.audioFeatures(path, 'mel 32', load);
    a.features[0] = 99; // a caller's copy: transferred, detached or written, the kept one stays
    const b = await cache.audioFeatures(path, 'mel 32', load);
    assert.deepEqual(Array.from(b.features), [1, 2, 3]);
    assert.equal(loads, 1);
    await cache.audioFeatures(path, 'mel 80', load);
    assert.equal(loads, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
