// DeepSeek-VL against transformers, stage by stage (SigLIP hidden states → post_layernorm → aligner → logits →
// greedy generation) on the deepseek-vl fixture; both SigLIP key layouts; errors for bad checkpoints and inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hfFixture } from '../../util/paths.ts';
import { readConfig } from '../registry.ts';
import { maxAbs, maxDiff, readTensors } from '../../io/hf/fixture.ts';
import { openSafetensors, writeSafetensors, type TensorData } from '../../io/safetensors.ts';
import { noGrad, slice, stack, type Tensor } from '../../tensor/index.ts';
import { deepseekRuntimeName, loadDeepseekVl } from './deepseek-vl.ts';

const dir = hfFixture('deepseek-vl');

function check(name: string, ours: Tensor, ref: Tensor, mask: Tensor | null = null): void {
  const d = maxDiff(ours, ref, mask), tol = 1e-4 * Math.max(1, maxAbs(ref));
  console.log(`  ${name}: maxdiff ${d.toExponential(2)}`);
  assert.ok(d <= tol, `${name}: maxdiff ${d} > ${tol}`);
}

test('deepseek-vl: every stage and greedy generation match transformers', { skip: !dir }, () => {
  const model = loadDeepseekVl(dir!, readConfig(dir!));
  const io = readTensors(join(dir!, 'io.safetensors'));
  const ids = io.get('input_ids')!, mask = io.get('attention_mask')!, pixels = io.get('pixel_values')!;
  const out = noGrad(() => model.module.forward({ inputIds: ids, pixelValues: pixels, attentionMask: mask }));
  console.log('deepseek-vl');
  check('vision_hidden_states', stack(out.vision!.hiddenStates), io.get('vision_hidden_states')!);
  check('vision_last_hidden_state', out.vision!.lastHiddenState, io.get('vision_last_hidden_state')!);
  check('image_features', out.imageFeatures!, io.get('image_features')!);
  check('logits', out.logits, io.get('logits')!, mask);
  const stepRef = io.get('gen_step_logits')!, T = ids.shape[1]!;
  const gen = model.module.generate(slice(ids, 0, 0, 1), slice(pixels, 0, 0, 1), slice(mask, 0, 0, 1), stepRef.shape[1]!);
  assert.deepEqual(gen.tokens[0], io.get('gen_sequences')!.toList().slice(T));
  check('gen_step_logits', stack(gen.stepLogits, 1), stepRef);
  const named = noGrad(() => model.forward(new Map([['input_ids', ids], ['pixel_values', pixels], ['attention_mask', mask]])));
  assert.equal(maxDiff(named.get('logits')!, out.logits), 0);
});

/** A copy of the fixture's checkpoint with keys renamed or dropped by `edit`. */
function rewritten(edit: (key: string, t: TensorData) => [string, TensorData] | null): string {
  const out = mkdtempSync(join(tmpdir(), 'deepseek-ckpt-'));
  copyFileSync(join(dir!, 'config.json'), join(out, 'config.json'));
  const r = openSafetensors(join(dir!, 'model.safetensors'));
  const tensors: Record<string, TensorData> = {};
  for (const k of r.keys()) {
    const e = edit(k, r.read(k));
    if (e) tensors[e[0]] = e[1];
  }
  r.close();
  writeSafetensors(join(out, 'model.safetensors'), tensors);
  return out;
}

test('deepseek-vl: model.vision_model.vision_model.* keys load to identical logits; bad keys are named', { skip: !dir }, () => {
  const io = readTensors(join(dir!, 'io.safetensors'));
  const run = (d: string): Tensor => noGrad(() => loadDeepseekVl(d, readConfig(d)).module.forward({
    inputIds: io.get('input_ids')!, pixelValues: io.get('pixel_values')!, attentionMask: io.get('attention_mask')!,
  }).logits);
  const nested = rewritten((k, t) => [k.replace(/^model\.vision_model\./, 'model.vision_model.vision_model.'), t]);
  const missing = rewritten((k, t) => (k === 'model.aligner.linear2.bias' ? null : [k, t]));
  const extra = rewritten((k, t) => [k === 'model.aligner.linear2.bias' ? 'model.aligner.linear3.bias' : k, t]);
  try {
    assert.equal(maxDiff(run(nested), run(dir!)), 0);
    assert.throws(() => loadDeepseekVl(missing, readConfig(missing)), /missing.*model\.aligner\.linear2\.bias/);
    assert.throws(() => loadDeepseekVl(extra, readConfig(extra)), /unexpected.*model\.aligner\.linear3\.bias/);
  } finally {
    for (const d of [nested, missing, extra]) rmSync(d, { recursive: true });
  }
  assert.equal(deepseekRuntimeName('vision_tower.x'), null);
});

test('deepseek-vl: image token/feature mismatches are clear errors', { skip: !dir }, () => {
  const model = loadDeepseekVl(dir!, readConfig(dir!));
  const io = readTensors(join(dir!, 'io.safetensors'));
  const ids = io.get('input_ids')!, pixels = io.get('pixel_values')!;
  assert.throws(() => noGrad(() => model.module.forward({ inputIds: ids, pixelValues: slice(pixels, 0, 0, 1) })),
    /32 image tokens \(id 299\) in input_ids, 16 feature rows/);
  assert.throws(() => noGrad(() => model.module.forward({ inputIds: ids })), /image tokens \(id 299\) but no pixel_values/);
});
