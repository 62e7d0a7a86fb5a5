// Qwen2-Audio parity with transformers on fixtures/hf/qwen2-audio: the masked, pooled audio tower output, the
// projected features, logits where attention_mask == 1 (1e-4·max(1, max|ref|)) and the loss (relative 1e-5);
// the per-audio token counts equal the fixture's num_audio_tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors } from '../../io/safetensors.ts';
import { noGrad, tensor, type Tensor } from '../../tensor/index.ts';
import { hfFixture } from '../../util/paths.ts';
import { loadModel } from '../registry.ts';
import { audioLengths, qwen2AudioLoss } from './qwen2-audio.ts';

const dir = hfFixture('qwen2-audio');

function readIo(fixture: string): (name: string) => Tensor {
  const r = openSafetensors(join(fixture, 'io.safetensors'));
  return (name) => {
    const t = r.read(name);
    return tensor(t.data, { shape: t.shape, dtype: t.dtype });
  };
}

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
  console.log(`qwen2-audio ${name}: maxdiff ${diff.toExponential(2)} (bound ${bound.toExponential(2)})`);
  assert.ok(diff <= bound, `${name}: maxdiff ${diff} > ${bound}`);
}

test('Qwen2-Audio matches transformers: audio tower, projector, logits, loss', { skip: dir === null }, async () => {
  const io = readIo(dir!);
  const meta = JSON.parse(readFileSync(join(dir!, 'meta.json'), 'utf8')) as { scalars: { loss: number } };
  const fm = io('feature_attention_mask'), F = fm.shape[1]!, fmv = fm.toFloat64();
  const counts = [0, 1].map((b) => audioLengths(fmv.slice(b * F, b * F + F).reduce((s, v) => s + v, 0)).tokens);
  assert.deepEqual(counts, io('num_audio_tokens').toList());
  const m = await loadModel(dir!);
  const inputs = new Map(['input_ids', 'input_features', 'feature_attention_mask', 'attention_mask', 'labels'].map((k) => [k, io(k)] as const));
  const out = noGrad(() => m.forward(inputs));
  assertClose('audio_tower_last_hidden_state', out.get('audio_tower_last_hidden_state')!, io('audio_tower_last_hidden_state'));
  assertClose('audio_features_projected', out.get('audio_features_projected')!, io('audio_features_projected'));
  assertClose('logits', out.get('logits')!, io('logits'), io('attention_mask').toFloat64());
  // One loss term comes from a left-padding position (the last pad predicts the first real token): with
  // transformers' finite-min eager mask that fully masked query attends uniformly to every key, and so does ours.
  const loss = out.get('loss')!.item(), ref = meta.scalars.loss;
  console.log(`qwen2-audio loss: ${loss} vs ${ref} (rel ${(Math.abs(loss - ref) / ref).toExponential(2)})`);
  assert.ok(Math.abs(loss - ref) / ref <= 1e-5, `loss ${loss} vs transformers ${ref}`);
  const fromRef = qwen2AudioLoss(io('logits'), io('labels'), io('attention_mask')).item();
  assert.ok(Math.abs(fromRef - ref) / ref <= 1e-5, `loss rule on reference logits: ${fromRef} vs ${ref}`);
});
