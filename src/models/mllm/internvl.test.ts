// InternVL against transformers, stage by stage (InternViT hidden states → pixel shuffle → projector → logits →
// greedy generation) on the internvl fixture, plus the errors bad input must raise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { hfFixture } from '../../util/paths.ts';
import { readConfig } from '../registry.ts';
import { maxAbs, maxDiff, readTensors } from '../../io/hf/fixture.ts';
import { noGrad, slice, stack, tensor, type Tensor } from '../../tensor/index.ts';
import { loadInternVl, parseInternVlConfig } from './internvl.ts';

const dir = hfFixture('internvl');

function check(name: string, ours: Tensor, ref: Tensor, mask: Tensor | null = null): void {
  const d = maxDiff(ours, ref, mask), tol = 1e-4 * Math.max(1, maxAbs(ref));
  console.log(`  ${name}: maxdiff ${d.toExponential(2)}`);
  assert.ok(d <= tol, `${name}: maxdiff ${d} > ${tol}`);
}

test('internvl: every stage and greedy generation match transformers', { skip: !dir }, () => {
  const model = loadInternVl(dir!, readConfig(dir!));
  const io = readTensors(join(dir!, 'io.safetensors'));
  const ids = io.get('input_ids')!, mask = io.get('attention_mask')!, pixels = io.get('pixel_values')!;
  const out = noGrad(() => model.module.forward({ inputIds: ids, pixelValues: pixels, attentionMask: mask }));
  const image = out.image!;
  console.log('internvl');
  check('vision_hidden_states', stack(image.vision.hiddenStates), io.get('vision_hidden_states')!);
  check('vision_last_hidden_state', image.vision.lastHiddenState, io.get('vision_last_hidden_state')!);
  check('pixel_shuffle_output', image.shuffled, io.get('pixel_shuffle_output')!);
  check('image_features', image.projected, io.get('image_features')!);
  check('logits', out.logits, io.get('logits')!, mask);

  const seq = io.get('gen_sequences')!, stepRef = io.get('gen_step_logits')!;
  const T = ids.shape[1]!, steps = stepRef.shape[1]!;
  const perTile = image.projected.shape[1]!;
  // The generated row is row 0 with its own tiles: as many as it has <IMG_CONTEXT> tokens.
  const row0 = slice(ids, 0, 0, 1);
  const tiles = row0.toList().filter((v) => v === model.module.cfg.imageTokenId).length / perTile;
  const gen = model.module.generate(row0, slice(pixels, 0, 0, tiles), slice(mask, 0, 0, 1), steps);
  assert.deepEqual(gen.tokens[0], seq.toList().slice(T));
  check('gen_step_logits', stack(gen.stepLogits, 1), stepRef);
  // The registry-facing entry points give the same results under transformers names.
  const named = noGrad(() => model.forward(new Map([['input_ids', ids], ['pixel_values', pixels], ['attention_mask', mask]])));
  assert.equal(maxDiff(named.get('logits')!, out.logits), 0);
  assert.deepEqual(model.generate!(new Map([['input_ids', row0], ['pixel_values', slice(pixels, 0, 0, tiles)]]), 2), [gen.tokens[0]!.slice(0, 2)]);
});

test('internvl: tile/token count mismatches and bad configs are clear errors', { skip: !dir }, () => {
  const cfg = readConfig(dir!);
  const model = loadInternVl(dir!, cfg);
  const io = readTensors(join(dir!, 'io.safetensors'));
  const ids = io.get('input_ids')!, pixels = io.get('pixel_values')!;
  assert.throws(() => noGrad(() => model.module.forward({ inputIds: ids, pixelValues: slice(pixels, 0, 0, 2) })),
    /48 image tokens \(id 299\) in input_ids, 32 feature rows/);
  assert.throws(() => noGrad(() => model.module.forward({ inputIds: ids })), /<IMG_CONTEXT> tokens \(id 299\) but no pixel_values/);
  assert.throws(() => noGrad(() => model.module.forward({ inputIds: ids, pixelValues: tensor(new Float32Array(3 * 3 * 16 * 16), { shape: [3, 3, 16, 16] }) })),
    /InternViT: pixel_values has shape \[3, 3, 16, 16\], expected \[tiles, 3, 32, 32\]/);
  assert.throws(() => parseInternVlConfig({ ...cfg, downsample_ratio: 0.3 }), /downsample_ratio 0.3 is not 1\/n/);
  assert.throws(() => parseInternVlConfig({ ...cfg, vision_feature_layer: 5 }), /vision_feature_layer 5 is outside the 3 vision hidden states/);
  const vision = cfg.vision_config as Record<string, unknown>;
  assert.throws(() => parseInternVlConfig({ ...cfg, vision_config: { ...vision, norm_type: 'batch_norm' } }), /norm_type "batch_norm"/);
});
