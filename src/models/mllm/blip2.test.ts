// BLIP-2 (OPT) parity with transformers on fixtures/hf/blip2-opt, stage by stage: vision last_hidden_state,
// Q-Former output, language projection, logits where attention_mask == 1 (within 1e-4·max(1, max|ref|)) and the
// loss (relative 1e-5). Also: loading through the registry, a wrong image-token count and a bad checkpoint key
// are clear errors, and the loss sends gradients back into the vision tower.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensors, writeSafetensors, type TensorData } from '../../io/safetensors.ts';
import { noGrad, tensor, type Tensor } from '../../tensor/index.ts';
import { hfFixture } from '../../util/paths.ts';
import { loadModel } from '../registry.ts';
import type { Blip2 } from './blip2.ts';

const dir = hfFixture('blip2-opt');

function readIo(fixture: string): (name: string) => Tensor {
  const r = openSafetensors(join(fixture, 'io.safetensors'));
  return (name) => {
    const t = r.read(name);
    return tensor(t.data, { shape: t.shape, dtype: t.dtype });
  };
}

/** maxdiff over rows whose mask (over the leading dims) is 1; mask null compares everything. */
function assertClose(name: string, got: Tensor, ref: Tensor, rowMask: Float64Array | null = null): void {
  assert.deepEqual(got.shape, ref.shape, name);
  const x = got.toFloat64(), y = ref.toFloat64(), width = rowMask ? x.length / rowMask.length : x.length;
  let diff = 0, big = 0;
  for (let i = 0; i < x.length; i++) {
    if (rowMask && rowMask[Math.floor(i / width)] === 0) continue;
    diff = Math.max(diff, Math.abs(x[i]! - y[i]!));
    big = Math.max(big, Math.abs(y[i]!));
  }
  const bound = 1e-4 * Math.max(1, big);
  console.log(`blip-2 ${name}: maxdiff ${diff.toExponential(2)} (bound ${bound.toExponential(2)})`);
  assert.ok(diff <= bound, `${name}: maxdiff ${diff} > ${bound}`);
}

test('BLIP-2 OPT matches transformers: vision, Q-Former, projection, logits, loss', { skip: dir === null }, async () => {
  const io = readIo(dir!);
  const meta = JSON.parse(readFileSync(join(dir!, 'meta.json'), 'utf8')) as { scalars: { loss: number } };
  const m = await loadModel(dir!);
  assert.equal(m.modelType, 'blip-2');
  const inputs = new Map(['pixel_values', 'input_ids', 'attention_mask', 'labels'].map((k) => [k, io(k)] as const));
  const out = noGrad(() => m.forward(inputs));
  assertClose('vision_last_hidden_state', out.get('vision_last_hidden_state')!, io('vision_last_hidden_state'));
  assertClose('qformer_last_hidden_state', out.get('qformer_last_hidden_state')!, io('qformer_last_hidden_state'));
  assertClose('language_projection_output', out.get('language_projection_output')!, io('language_projection_output'));
  assertClose('logits', out.get('logits')!, io('logits'), io('attention_mask').toFloat64());
  const loss = out.get('loss')!.item(), ref = meta.scalars.loss;
  console.log(`blip-2 loss: ${loss} vs ${ref} (rel ${(Math.abs(loss - ref) / ref).toExponential(2)})`);
  assert.ok(Math.abs(loss - ref) / ref <= 1e-5);
});

test('BLIP-2: the loss reaches the vision tower; wrong image-token counts are rejected', { skip: dir === null }, async () => {
  const io = readIo(dir!);
  const m = await loadModel(dir!);
  const model = m.module as Blip2;
  const out = m.forward(new Map(['pixel_values', 'input_ids', 'attention_mask', 'labels'].map((k) => [k, io(k)] as const)));
  out.get('loss')!.backward();
  const g = model.visionModel.embeddings.patchEmbedding.weight.grad;
  assert.ok(g && g.abs().sum().item() > 0, 'patch embedding got a gradient');
  assert.ok(model.queryTokens.grad && model.queryTokens.grad.abs().sum().item() > 0, 'query tokens got a gradient');
  const ids = io('input_ids').toFloat64().slice();
  ids[0] = 5; // one image token fewer than the queries provide
  const bad = new Map([['pixel_values', io('pixel_values')], ['input_ids', tensor(ids, { shape: [2, ids.length / 2], dtype: 'int64' })]]);
  assert.throws(() => noGrad(() => m.forward(bad)), /image tokens .* query rows/);
  assert.throws(() => m.forward(new Map([['input_ids', io('input_ids')]])), /missing input "pixel_values"/);
});

test('BLIP-2: a checkpoint missing a key fails naming the folder and the key', { skip: dir === null }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'blip2-'));
  try {
    cpSync(join(dir!, 'config.json'), join(tmp, 'config.json'));
    const r = openSafetensors(join(dir!, 'model.safetensors'));
    const kept: Record<string, TensorData> = {};
    for (const k of r.keys()) if (k !== 'qformer.encoder.layer.0.crossattention.output.LayerNorm.weight') kept[k] = r.read(k);
    r.close();
    writeSafetensors(join(tmp, 'model.safetensors'), kept);
    await assert.rejects(loadModel(tmp), (e: Error) => e.message.includes(tmp) && e.message.includes('qformer.encoder.layer.0.crossattention.output.LayerNorm.weight'));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
