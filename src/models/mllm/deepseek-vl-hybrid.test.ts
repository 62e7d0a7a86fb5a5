// DeepSeek-VL-hybrid against transformers, every stage of both branches (SigLIP, SAM hidden states, SAM neck, the
// global neck, the shared high-res projection of each, their alpha-weighted sum, the aligner, logits) on the
// deepseek-vl-hybrid fixture; plus the cached-decoding invariant and input errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { hfFixture } from '../../util/paths.ts';
import { readConfig } from '../registry.ts';
import { maxAbs, maxDiff, readMeta, readTensors } from '../../io/hf/fixture.ts';
import { noGrad, slice, stack, tensor, type Tensor } from '../../tensor/index.ts';
import { positionsFromMask } from '../llm/generate.ts';
import { loadDeepseekVlHybrid } from './deepseek-vl-hybrid.ts';

const dir = hfFixture('deepseek-vl-hybrid');

function check(name: string, ours: Tensor, ref: Tensor, mask: Tensor | null = null): void {
  const d = maxDiff(ours, ref, mask), tol = 1e-4 * Math.max(1, maxAbs(ref));
  console.log(`  ${name}: maxdiff ${d.toExponential(2)}`);
  assert.ok(d <= tol, `${name}: maxdiff ${d} > ${tol}`);
}

test('deepseek-vl-hybrid: every stage matches transformers', { skip: !dir }, () => {
  const model = loadDeepseekVlHybrid(dir!, readConfig(dir!));
  const io = readTensors(join(dir!, 'io.safetensors'));
  const meta = readMeta(dir!) as { scalars: { high_res_vision_alpha: number } };
  const mask = io.get('attention_mask')!;
  const out = noGrad(() => model.module.forward({
    inputIds: io.get('input_ids')!, pixelValues: io.get('pixel_values')!, highResPixelValues: io.get('high_res_pixel_values')!, attentionMask: mask,
  }));
  const f = out.image!;
  console.log('deepseek-vl-hybrid');
  assert.ok(Math.abs(model.module.model.high_res_vision_alpha.item() - meta.scalars.high_res_vision_alpha) < 1e-7);
  check('low_res_last_hidden_state', f.low.lastHiddenState, io.get('low_res_last_hidden_state')!);
  check('sam_hidden_states', stack(f.sam.hiddenStates), io.get('sam_hidden_states')!);
  check('sam_last_hidden_state', f.sam.lastHiddenState, io.get('sam_last_hidden_state')!);
  check('global_neck_output', f.globalNeck, io.get('global_neck_output')!);
  check('high_res_proj_of_last', f.projOfLast, io.get('high_res_proj_of_last')!);
  check('high_res_proj_of_global', f.projOfGlobal, io.get('high_res_proj_of_global')!);
  check('high_res_features', f.highRes, io.get('high_res_features')!);
  check('image_features', f.projected, io.get('image_features')!);
  check('logits', out.logits, io.get('logits')!, mask);
});

test('deepseek-vl-hybrid: cached greedy decoding equals full recomputation', { skip: !dir }, () => {
  const model = loadDeepseekVlHybrid(dir!, readConfig(dir!));
  const io = readTensors(join(dir!, 'io.safetensors'));
  const ids = io.get('input_ids')!, mask = io.get('attention_mask')!, px = io.get('pixel_values')!, hi = io.get('high_res_pixel_values')!;
  const [B, T] = ids.shape as [number, number];
  const steps = 3;
  const gen = model.module.generate(ids, px, hi, mask, steps);
  const rows = (t: Tensor): number[][] => Array.from({ length: B }, (_, b) => t.toList().slice(b * T, b * T + T));
  noGrad(() => {
    for (let s = 0; s < steps; s++) {
      const fullIds = tensor(rows(ids).map((r, b) => [...r, ...gen.tokens[b]!.slice(0, s)]), { dtype: 'int64' });
      const fullMask = tensor(rows(mask).map((r) => [...r, ...new Array<number>(s).fill(1)]), { dtype: 'int64' });
      const o = model.module.forward({ inputIds: fullIds, pixelValues: px, highResPixelValues: hi, attentionMask: fullMask, positionIds: positionsFromMask(fullMask) });
      const d = maxDiff(slice(o.logits, 1, T + s - 1, T + s).squeeze(1), gen.stepLogits[s]!);
      assert.ok(d < 1e-5, `step ${s}: cached vs recomputed logits differ by ${d}`);
    }
  });
});

test('deepseek-vl-hybrid: missing or mismatched image inputs are clear errors', { skip: !dir }, () => {
  const model = loadDeepseekVlHybrid(dir!, readConfig(dir!));
  const io = readTensors(join(dir!, 'io.safetensors'));
  const ids = io.get('input_ids')!, px = io.get('pixel_values')!, hi = io.get('high_res_pixel_values')!;
  assert.throws(() => noGrad(() => model.module.forward({ inputIds: ids, pixelValues: px })), /both pixel_values and high_res_pixel_values/);
  assert.throws(() => noGrad(() => model.module.forward({ inputIds: ids, pixelValues: px, highResPixelValues: slice(hi, 0, 0, 1) })),
    /pixel_values has 2 images but high_res_pixel_values 1/);
  assert.throws(() => noGrad(() => model.module.forward({ inputIds: ids, pixelValues: px, highResPixelValues: px })),
    /SAM vision: high_res_pixel_values has shape \[2, 3, 32, 32\], expected \[B, 3, 48, 48\]/);
});
