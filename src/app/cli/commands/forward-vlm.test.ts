// `tessera forward` on the Qwen2-VL and Idefics3 fixtures: the CLI dispatches by model_type, reads image_grid_thw
// and mm_token_type_ids from the inputs file, and writes logits (plus M-RoPE ids / image features) that match
// transformers; a Qwen2-VL input without mm_token_type_ids fails with a message naming it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hfFixture, repoRoot } from '../../../util/paths.ts';
import { maxAbs, maxDiff, readTensors } from '../../../io/hf/fixture.ts';
import { writeSafetensors, type TensorData } from '../../../io/safetensors.ts';

const bin = join(repoRoot, 'bin/tessera.mjs');
const qwen2vl = hfFixture('qwen2-vl'), idefics3 = hfFixture('idefics3');

function forward(model: string, inputs: string, out: string): void {
  execFileSync(process.execPath, [bin, 'forward', '--model', model, '--inputs', inputs, '--out', out], { encoding: 'utf8' });
}

test('tessera forward runs Qwen2-VL with image_grid_thw and mm_token_type_ids', { skip: !qwen2vl }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tessera-qwen2vl-'));
  try {
    const io = readTensors(join(qwen2vl!, 'io.safetensors')), out = join(tmp, 'out.safetensors');
    forward(qwen2vl!, join(qwen2vl!, 'io.safetensors'), out);
    const got = readTensors(out);
    const d = maxDiff(got.get('logits')!, io.get('logits')!, io.get('attention_mask')!);
    assert.ok(d <= 1e-4 * Math.max(1, maxAbs(io.get('logits')!)), `logits maxdiff ${d}`);
    assert.deepEqual(got.get('mrope_position_ids')!.toList(), io.get('mrope_position_ids')!.toList());
    assert.deepEqual(got.get('mrope_position_deltas')!.toList(), io.get('mrope_position_deltas')!.toList());

    const partial: Record<string, TensorData> = {};
    for (const k of ['input_ids', 'attention_mask', 'pixel_values', 'image_grid_thw']) {
      const t = io.get(k)!;
      partial[k] = t.dtype === 'int64' ? { dtype: 'int64', shape: [...t.shape], data: t.storage as BigInt64Array } : { dtype: 'float32', shape: [...t.shape], data: t.toFloat32Array() };
    }
    const bad = join(tmp, 'no-types.safetensors');
    writeSafetensors(bad, partial);
    const r = spawnSync(process.execPath, [bin, 'forward', '--model', qwen2vl!, '--inputs', bad, '--out', join(tmp, 'x.safetensors')], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /mm_token_type_ids is missing/);
  } finally {
    rmSync(tmp, { recursive: true });
  }
});

test('tessera forward runs Idefics3 and writes image_hidden_states', { skip: !idefics3 }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tessera-idefics3-'));
  try {
    const io = readTensors(join(idefics3!, 'io.safetensors')), out = join(tmp, 'out.safetensors');
    forward(idefics3!, join(idefics3!, 'io.safetensors'), out);
    const got = readTensors(out);
    assert.ok(maxDiff(got.get('logits')!, io.get('logits')!, io.get('attention_mask')!) <= 1e-4 * Math.max(1, maxAbs(io.get('logits')!)));
    assert.ok(maxDiff(got.get('image_hidden_states')!, io.get('image_hidden_states')!) <= 1e-4 * Math.max(1, maxAbs(io.get('image_hidden_states')!)));
  } finally {
    rmSync(tmp, { recursive: true });
  }
});
