// Greedy generation against transformers (single row, and a left-padded batch of two), and the invariants
// behind it: cached decoding equals a full recomputation, and a batch of two equals two batches of one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { hfFixture } from '../../util/paths.ts';
import { readConfig } from '../registry.ts';
import { maxAbs, maxDiff, readTensors } from '../../io/hf/fixture.ts';
import { noGrad, slice, stack, tensor, type Tensor } from '../../tensor/index.ts';
import { positionsFromMask } from '../llm/generate.ts';
import { loadLlava } from './llava.ts';

const rows = (t: Tensor, n: number): number[][] => {
  const v = t.toList(), w = t.shape[1]!;
  return Array.from({ length: n }, (_, b) => v.slice(b * w, b * w + w));
};

for (const name of ['llava-clip-llama', 'llava-siglip-qwen2']) {
  const dir = hfFixture(name);
  test(`${name}: greedy generation matches transformers (single and left-padded batch)`, { skip: !dir }, () => {
    const model = loadLlava(dir!, readConfig(dir!));
    const io = readTensors(join(dir!, 'io.safetensors'));
    const ids = io.get('input_ids')!, mask = io.get('attention_mask')!, pixels = io.get('pixel_values')!;
    const [B, T] = ids.shape as [number, number];
    const steps = io.get('gen_step_logits')!.shape[1]!;
    const single = model.module.generate(slice(ids, 0, 0, 1), slice(pixels, 0, 0, 1), slice(mask, 0, 0, 1), steps);
    const refSeq = rows(io.get('gen_sequences')!, 1)[0]!;
    assert.deepEqual(single.tokens[0], refSeq.slice(T));
    const d1 = maxDiff(stack(single.stepLogits, 1), io.get('gen_step_logits')!);
    const batch = model.module.generate(ids, pixels, mask, steps);
    assert.deepEqual(batch.tokens, rows(io.get('gen_batch_sequences')!, B).map((r) => r.slice(T)));
    const refBatch = io.get('gen_batch_step_logits')!;
    const d2 = maxDiff(stack(batch.stepLogits, 1), refBatch);
    console.log(`${name}: gen_step_logits maxdiff ${d1.toExponential(2)}, gen_batch_step_logits ${d2.toExponential(2)}`);
    assert.ok(d1 <= 1e-4 * Math.max(1, maxAbs(refBatch)) && d2 <= 1e-4 * Math.max(1, maxAbs(refBatch)));
    // The registry-facing generate returns the same continuations.
    assert.deepEqual(model.generate!(new Map([['input_ids', ids], ['pixel_values', pixels], ['attention_mask', mask]]), steps), batch.tokens);
  });

  test(`${name}: cached decoding equals full recomputation; batch of 2 equals two batches of 1`, { skip: !dir }, () => {
    const model = loadLlava(dir!, readConfig(dir!));
    const io = readTensors(join(dir!, 'io.safetensors'));
    const ids = io.get('input_ids')!, mask = io.get('attention_mask')!, pixels = io.get('pixel_values')!;
    const [B, T] = ids.shape as [number, number];
    const steps = 3;
    const gen = model.module.generate(ids, pixels, mask, steps);
    // Recompute every step from scratch: prompt + tokens so far, positions from the mask, no cache.
    noGrad(() => {
      for (let s = 0; s < steps; s++) {
        const full = rows(ids, B).map((r, b) => [...r, ...gen.tokens[b]!.slice(0, s)]);
        const fullIds = tensor(full, { dtype: 'int64' });
        const fullMask = tensor(rows(mask, B).map((r) => [...r, ...new Array<number>(s).fill(1)]), { dtype: 'int64' });
        const out = model.module.forward({ inputIds: fullIds, pixelValues: pixels, attentionMask: fullMask, positionIds: positionsFromMask(fullMask) });
        const last = slice(out.logits, 1, T + s - 1, T + s).squeeze(1);
        const d = maxDiff(last, gen.stepLogits[s]!);
        assert.ok(d < 1e-5, `step ${s}: cached vs recomputed logits differ by ${d}`);
      }
      for (let b = 0; b < B; b++) {
        const one = model.module.generate(slice(ids, 0, b, b + 1), slice(pixels, 0, b, b + 1), slice(mask, 0, b, b + 1), steps);
        assert.deepEqual(one.tokens[0], gen.tokens[b]);
        const d = maxDiff(stack(one.stepLogits, 1), slice(stack(gen.stepLogits, 1), 0, b, b + 1));
        assert.ok(d < 1e-5, `row ${b}: batched vs alone differ by ${d}`);
      }
    });
  });
}
