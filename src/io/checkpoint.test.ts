// Tests for checkpoint folders: sharded write → reopen → compare, transformers' file naming and index, the
// single-file case, the real HF fixture folder, and the errors for a missing shard, a bad index, a key missing from
// its shard, a key the index does not list, and a key duplicated across shards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { indexFileName, openCheckpoint, writeShardedCheckpoint } from './checkpoint.ts';
import { SafetensorsError, writeSafetensors } from './safetensors.ts';
import type { TensorData } from './safetensors.ts';
import { hfFixture } from '../util/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'tessera-ckpt-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

function weights(): Record<string, TensorData> {
  const f32 = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 100 + i));
  return {
    'embed.weight': { dtype: 'float32', shape: [10, 8], data: f32(80, 1) },      // 320 bytes
    'layers.0.q.weight': { dtype: 'float32', shape: [8, 8], data: f32(64, 2) },   // 256
    'layers.0.norm.weight': { dtype: 'bfloat16', shape: [8], data: Uint16Array.from({ length: 8 }, (_, i) => 0x3f80 + i) }, // 16
    'layers.1.q.weight': { dtype: 'float32', shape: [8, 8], data: f32(64, 3) },   // 256
    'head.weight': { dtype: 'float32', shape: [20, 8], data: f32(160, 4) },      // 640: bigger than a shard
    'positions': { dtype: 'int64', shape: [4], data: BigInt64Array.of(0n, 1n, 2n, 3n) }, // 32
  };
}

function assertSame(dir: string, want: Record<string, TensorData>): void {
  const ckpt = openCheckpoint(dir);
  assert.deepEqual(ckpt.keys().sort(), Object.keys(want).sort());
  for (const [k, t] of Object.entries(want)) {
    const got = ckpt.read(k);
    assert.equal(got.dtype, t.dtype, k);
    assert.deepEqual(got.shape, t.shape, k);
    assert.deepEqual(got.data, t.data, k);
  }
  ckpt.close();
}

function writeSharded(name: string): string {
  const dir = join(tmp, name);
  writeShardedCheckpoint(dir, weights(), 600);
  return dir;
}

test('a sharded checkpoint is written like transformers and reads back identically', () => {
  const dir = join(tmp, 'sharded');
  const out = writeShardedCheckpoint(dir, weights(), 600);
  // Greedy in key order: [embed, q0, norm0] = 592, [q1] (q1 + head > 600), [head] alone, [positions].
  assert.deepEqual(out.files, ['model-00001-of-00004.safetensors', 'model-00002-of-00004.safetensors',
    'model-00003-of-00004.safetensors', 'model-00004-of-00004.safetensors']);
  assert.equal(out.totalSize, 320 + 256 + 16 + 256 + 640 + 32);
  const index = JSON.parse(readFileSync(join(dir, indexFileName), 'utf8')) as { metadata: { total_size: number }; weight_map: Record<string, string> };
  assert.equal(index.metadata.total_size, out.totalSize);
  assert.equal(index.weight_map['head.weight'], 'model-00003-of-00004.safetensors');
  assert.deepEqual(Object.keys(index.weight_map), Object.keys(weights()).sort());
  assertSame(dir, weights());
  const ckpt = openCheckpoint(dir);
  assert.equal(ckpt.fileOf('positions'), join(dir, 'model-00004-of-00004.safetensors'));
  assert.deepEqual([...ckpt.readFloat32('layers.0.norm.weight')].slice(0, 2), [1, 1.0078125]);
  assert.throws(() => ckpt.read('nope'), /checkpoint has no tensor "nope"/);
  ckpt.close();

  // Saving again with larger shards removes the stale shards; one shard becomes a plain model.safetensors.
  writeShardedCheckpoint(dir, weights(), 1500);
  assert.deepEqual(readdirSync(dir).sort(), ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', indexFileName]);
  writeShardedCheckpoint(dir, weights(), 1 << 20);
  assert.deepEqual(readdirSync(dir), ['model.safetensors']);
  assertSame(dir, weights());
});

test('opens the real fixture folder and a single .safetensors path', (t) => {
  const dir = hfFixture('llava-clip-llama');
  if (!dir) return t.skip('shared fixtures absent');
  const ckpt = openCheckpoint(dir);
  assert.equal(ckpt.keys().length, 64);
  assert.deepEqual(ckpt.info('language_model.lm_head.weight').shape, [300, 64]);
  assert.equal(ckpt.readFloat32('language_model.lm_head.weight')[0], 0.03482436016201973);
  ckpt.close();
  const io = openCheckpoint(join(dir, 'io.safetensors'));
  assert.equal(io.keys().length, 18);
  io.close();
});

const rejects = (dir: string, pattern: RegExp) => assert.throws(() => openCheckpoint(dir), (e: unknown) => {
  assert.ok(e instanceof SafetensorsError, String(e));
  assert.match(e.message, pattern);
  return true;
});

test('a missing shard names the index, the shard and a key', () => {
  const dir = writeSharded('missing');
  unlinkSync(join(dir, 'model-00002-of-00004.safetensors'));
  rejects(dir, /model\.safetensors\.index\.json: shard "model-00002-of-00004\.safetensors" \(listed for key "layers\.1\.q\.weight"\) not found/);
});

test('a bad index names the index file', () => {
  const dir = writeSharded('bad-index');
  writeFileSync(join(dir, indexFileName), '{"weight_map": ');
  rejects(dir, /index\.json: not valid JSON/);
  writeFileSync(join(dir, indexFileName), '{"metadata": {}}');
  rejects(dir, /index\.json: "weight_map" is not an object/);
  writeFileSync(join(dir, indexFileName), '{"weight_map": {"a": 3}}');
  rejects(dir, /index\.json: weight_map\["a"\] is 3/);
  writeFileSync(join(dir, indexFileName), '{"weight_map": {"a": "../../etc/passwd"}}');
  rejects(dir, /weight_map\["a"\] = "\.\.\/\.\.\/etc\/passwd" leaves the checkpoint folder/);
  rmSync(join(dir, indexFileName));
  rejects(dir, /neither model\.safetensors nor model\.safetensors\.index\.json/);
});

test('the index and the shards must agree key by key', () => {
  const dir = writeSharded('disagree');
  const indexPath = join(dir, indexFileName);
  const index = JSON.parse(readFileSync(indexPath, 'utf8')) as { weight_map: Record<string, string> };

  // The index promises a key that its shard lacks.
  writeFileSync(indexPath, JSON.stringify({ weight_map: { ...index.weight_map, 'ghost.weight': 'model-00001-of-00004.safetensors' } }));
  rejects(dir, /model-00001-of-00004\.safetensors: key "ghost\.weight" is listed in .*index\.json but absent from this shard/);

  // A shard holds a key the index does not list.
  const { 'layers.0.norm.weight': _, ...fewer } = index.weight_map;
  writeFileSync(indexPath, JSON.stringify({ weight_map: fewer }));
  rejects(dir, /model-00001-of-00004\.safetensors: key "layers\.0\.norm\.weight" is in this shard but not listed/);

  // Two shards hold the same key.
  writeFileSync(indexPath, JSON.stringify(index));
  const w = weights();
  writeSafetensors(join(dir, 'model-00004-of-00004.safetensors'), { positions: w.positions!, 'embed.weight': w['embed.weight']! });
  rejects(dir, /key "embed\.weight" is also in shard "model-00001-of-00004\.safetensors" \(duplicate key across shards\)/);
});

test('a corrupt shard reports the shard file and the tensor', () => {
  const dir = writeSharded('corrupt');
  const shard = join(dir, 'model-00003-of-00004.safetensors');
  const bytes = readFileSync(shard);
  writeFileSync(shard, bytes.subarray(0, bytes.length - 4));
  rejects(dir, /model-00003-of-00004\.safetensors: tensor "head\.weight": .*run past/);
  mkdirSync(join(tmp, 'copy'), { recursive: true });
  copyFileSync(shard, join(tmp, 'copy', 'model.safetensors'));
  rejects(join(tmp, 'copy'), /copy\/model\.safetensors: tensor "head\.weight"/);
  assert.ok(existsSync(join(dir, indexFileName)));
});
