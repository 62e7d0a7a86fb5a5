// Broken checkpoints fail with messages that name the file and the key: an unknown model_type, a config that
// is not JSON, a truncated shard, a missing key, a mis-shaped tensor (checked through loadModel on copies of
// the llava-clip-llama fixture).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from './registry.ts';
import { hfFixture } from '../util/paths.ts';
import { openSafetensors, writeSafetensors } from '../io/safetensors.ts';

const fixture = hfFixture('llava-clip-llama');

function copyFixture(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-broken-'));
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(fixture!, f), join(dir, f));
  return dir;
}

/** Rewrites model.safetensors with `edit` applied to the tensor map. */
function rewrite(dir: string, edit: (m: Map<string, { dtype: 'float32'; shape: number[]; data: Float32Array }>) => void): void {
  const r = openSafetensors(join(dir, 'model.safetensors'));
  const m = new Map(r.keys().map((k) => [k, { dtype: 'float32' as const, shape: [...r.info(k).shape], data: r.readFloat32(k) }]));
  r.close();
  edit(m);
  writeSafetensors(join(dir, 'model.safetensors'), Object.fromEntries(m));
}

test('an unknown model_type names config.json and the known types', { skip: !fixture }, async () => {
  const dir = copyFixture();
  try {
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, model_type: 'llava_next_video_plus' }));
    await assert.rejects(loadModel(dir), (e: Error) => /config\.json/.test(e.message) && /llava_next_video_plus/.test(e.message) && /llava/.test(e.message));
  } finally { rmSync(dir, { recursive: true }); }
});

test('a config that is not JSON names the file', { skip: !fixture }, async () => {
  const dir = copyFixture();
  try {
    writeFileSync(join(dir, 'config.json'), '{"model_type": "llava",');
    await assert.rejects(loadModel(dir), (e: Error) => /config\.json/.test(e.message) && /JSON/.test(e.message));
  } finally { rmSync(dir, { recursive: true }); }
});

test('a truncated shard names the file and a tensor', { skip: !fixture }, async () => {
  const dir = copyFixture();
  try {
    const path = join(dir, 'model.safetensors');
    truncateSync(path, Math.floor(statSync(path).size * 0.7));
    await assert.rejects(loadModel(dir), (e: Error) => /model\.safetensors/.test(e.message));
  } finally { rmSync(dir, { recursive: true }); }
});

test('a missing key is named', { skip: !fixture }, async () => {
  const dir = copyFixture();
  try {
    rewrite(dir, (m) => m.delete('multi_modal_projector.linear_1.weight'));
    await assert.rejects(loadModel(dir), (e: Error) => /multi_modal_projector\.linear_1\.weight/.test(e.message) || /linear_1\.weight/.test(e.message));
  } finally { rmSync(dir, { recursive: true }); }
});

test('a mis-shaped tensor names the key and both shapes', { skip: !fixture }, async () => {
  const dir = copyFixture();
  try {
    rewrite(dir, (m) => {
      const t = m.get('multi_modal_projector.linear_2.bias')!;
      m.set('multi_modal_projector.linear_2.bias', { ...t, shape: [t.data.length - 1], data: t.data.subarray(1) });
    });
    await assert.rejects(loadModel(dir), (e: Error) => /linear_2\.bias/.test(e.message) && /\[\d+\]/.test(e.message));
  } finally { rmSync(dir, { recursive: true }); }
});
