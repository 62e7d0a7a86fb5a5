// LLaVA against transformers, stage by stage (vision hidden states → selected features → projector → merged
// embeddings → text hidden states → logits → loss) on the llava-clip-llama and llava-siglip-qwen2 fixtures,
// plus checkpoint layouts and the errors a bad checkpoint or input must raise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hfFixture } from '../../util/paths.ts';
import { readConfig } from '../registry.ts';
import { maxAbs, maxDiff, readMeta, readTensors } from '../../io/hf/fixture.ts';
import { openSafetensors, writeSafetensors, type TensorData } from '../../io/safetensors.ts';
import { concat, noGrad, slice, stack, tensor, type Tensor } from '../../tensor/index.ts';
import { Llava, loadLlava, parseLlavaConfig } from './llava.ts';

const fixtures = ['llava-clip-llama', 'llava-siglip-qwen2'] as const;
const tol = (ref: Tensor): number => 1e-4 * Math.max(1, maxAbs(ref));

function check(name: string, ours: Tensor, ref: Tensor, mask: Tensor | null = null): void {
  const d = maxDiff(ours, ref, mask);
  console.log(`  ${name}: maxdiff ${d.toExponential(2)}`);
  assert.ok(d <= tol(ref), `${name}: maxdiff ${d} > ${tol(ref)}`);
}

for (const name of fixtures) {
  const dir = hfFixture(name);
  test(`${name}: every stage matches transformers`, { skip: !dir }, () => {
    const model = loadLlava(dir!, readConfig(dir!));
    const io = readTensors(join(dir!, 'io.safetensors'));
    const meta = readMeta(dir!) as { scalars: { loss: number } };
    const mask = io.get('attention_mask')!;
    const inputs = { inputIds: io.get('input_ids')!, pixelValues: io.get('pixel_values')!, attentionMask: mask, labels: io.get('labels')! };
    const out = noGrad(() => model.module.forward({ ...inputs, outputHiddenStates: true }));
    console.log(name);
    const vision = noGrad(() => model.module.model.vision_tower.forward(io.get('pixel_values')!));
    check('vision_hidden_states', stack(vision.hiddenStates), io.get('vision_hidden_states')!);
    check('vision_last_hidden_state', vision.lastHiddenState!, io.get('vision_last_hidden_state')!);
    check('vision_pooler_output', vision.poolerOutput!, io.get('vision_pooler_output')!);
    check('selected_image_features', out.image!.selected, io.get('selected_image_features')!);
    check('image_features', out.image!.projected, io.get('image_features')!);
    check('inputs_embeds', out.inputsEmbeds, io.get('inputs_embeds')!);
    check('text_hidden_states', stack(out.textHiddenStates!), io.get('text_hidden_states')!, mask);
    check('logits', out.logits, io.get('logits')!, mask);
    const loss = out.loss!.item();
    console.log(`  loss ${loss} vs ${meta.scalars.loss}`);
    assert.ok(Math.abs(loss - meta.scalars.loss) <= 1e-5 * meta.scalars.loss);
    const withPos = noGrad(() => model.module.forward({ ...inputs, positionIds: io.get('position_ids_from_mask')! }));
    check('logits_with_position_ids_from_mask', withPos.logits, io.get('logits_with_position_ids_from_mask')!, mask);
    // The registry-facing forward gives the same logits and loss under transformers names.
    const named = noGrad(() => model.forward(new Map([...io].filter(([k]) => ['input_ids', 'pixel_values', 'attention_mask', 'labels'].includes(k)))));
    assert.equal(maxDiff(named.get('logits')!, out.logits), 0);
    assert.equal(named.get('loss')!.item(), loss);
  });
}

/** A copy of a fixture's checkpoint with keys renamed (or dropped / reshaped) by `edit`. */
function rewritten(dir: string, edit: (key: string, t: TensorData) => [string, TensorData] | null): string {
  const out = mkdtempSync(join(tmpdir(), 'llava-ckpt-'));
  copyFileSync(join(dir, 'config.json'), join(out, 'config.json'));
  const r = openSafetensors(join(dir, 'model.safetensors'));
  const tensors: Record<string, TensorData> = {};
  for (const k of r.keys()) {
    const e = edit(k, r.read(k));
    if (e) tensors[e[0]] = e[1];
  }
  r.close();
  writeSafetensors(join(out, 'model.safetensors'), tensors);
  return out;
}

const clipDir = hfFixture('llava-clip-llama');

test('hub layout (vision_tower.vision_model.*), runtime names and float16 load to the same logits', { skip: !clipDir }, () => {
  const io = readTensors(join(clipDir!, 'io.safetensors'));
  const run = (d: string): Tensor => noGrad(() => loadLlava(d, readConfig(d)).module.forward({
    inputIds: io.get('input_ids')!, pixelValues: io.get('pixel_values')!, attentionMask: io.get('attention_mask')!,
  }).logits);
  const ref = run(clipDir!);
  const hub = rewritten(clipDir!, (k, t) => [k.replace(/^vision_tower\./, 'vision_tower.vision_model.'), t]);
  const runtime = rewritten(clipDir!, (k, t) => [k.startsWith('language_model.model.') ? `model.language_model.${k.slice(21)}`
    : k === 'language_model.lm_head.weight' ? 'lm_head.weight' : `model.${k}`, t]);
  const half = rewritten(clipDir!, (k, t) => [k, { dtype: 'float16', shape: t.shape, data: tensor(t.data as Float32Array, { shape: t.shape }).to('float16').toArray() as Uint16Array }]);
  try {
    assert.equal(maxDiff(run(hub), ref), 0);
    assert.equal(maxDiff(run(runtime), ref), 0);
    const d = maxDiff(run(half), ref, io.get('attention_mask')!);
    assert.ok(d > 0 && d < 0.05, `float16 weights change logits by ${d}`);
  } finally {
    for (const d of [hub, runtime, half]) rmSync(d, { recursive: true });
  }
});

test('a bad checkpoint is an error naming the keys', { skip: !clipDir }, () => {
  const cases: [string, (k: string, t: TensorData) => [string, TensorData] | null, RegExp][] = [
    ['missing', (k, t) => (k === 'multi_modal_projector.linear_1.bias' ? null : [k, t]), /missing.*multi_modal_projector\.linear_1\.bias/],
    ['unexpected', (k, t) => [k === 'multi_modal_projector.linear_1.bias' ? 'multi_modal_projector.extra.bias' : k, t], /unexpected.*multi_modal_projector\.extra\.bias \(in model\.safetensors\)/],
    ['shape', (k, t) => [k, k === 'language_model.model.norm.weight' ? { ...t, shape: [t.shape[0]! / 2, 2] } : t], /shape mismatch.*norm\.weight/],
  ];
  for (const [what, edit, pattern] of cases) {
    const d = rewritten(clipDir!, edit);
    try {
      assert.throws(() => loadLlava(d, readConfig(d)), pattern, what);
    } finally {
      rmSync(d, { recursive: true });
    }
  }
});

test('image token count mismatch names both counts', { skip: !clipDir }, () => {
  const model = loadLlava(clipDir!, readConfig(clipDir!));
  const io = readTensors(join(clipDir!, 'io.safetensors'));
  const ids = io.get('input_ids')!;
  const one = tensor(ids.toList().slice(0, ids.shape[1]!), { shape: [1, ids.shape[1]!], dtype: 'int64' });
  assert.throws(() => noGrad(() => model.module.forward({ inputIds: one, pixelValues: io.get('pixel_values')! })),
    /16 image tokens \(id 299\) in input_ids, 32 feature rows/);
  assert.throws(() => noGrad(() => model.module.forward({ inputIds: one })), /image tokens.*no pixel_values/);
});

test('a list vision_feature_layer concatenates those layers on channels (strategy default drops CLS)', { skip: !clipDir }, () => {
  const cfg = readConfig(clipDir!);
  const model = new Llava(parseLlavaConfig({ ...cfg, vision_feature_layer: [-2, -1, 0] }));
  assert.deepEqual(model.featureLayers, [1, 2, 0]);
  assert.deepEqual(model.model.multi_modal_projector.linear_1.weight.shape, [64, 32 * 3]);
  const pixels = readTensors(join(clipDir!, 'io.safetensors')).get('pixel_values')!;
  noGrad(() => {
    const f = model.imageFeatures(pixels);
    const hs = f.vision.hiddenStates;
    const expected = concat([1, 2, 0].map((i) => slice(hs[i]!, 1, 1)), -1);
    assert.deepEqual(f.selected.shape, [2, 16, 96]);
    assert.equal(maxDiff(f.selected, expected), 0);
    assert.deepEqual(f.projected.shape, [2, 16, 64]);
  });
  assert.throws(() => new Llava(parseLlavaConfig({ ...cfg, vision_feature_layer: -4 })), /vision_feature_layer -4 is outside the 3 vision hidden states/);
  assert.throws(() => parseLlavaConfig({ ...cfg, vision_feature_select_strategy: 'cls' }), /must be "default" or "full"/);
});
