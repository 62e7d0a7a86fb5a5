// The frozen vision tower's outputs kept by pixel array (TesseraModel.cacheFrozenVisionFeatures): a batch that
// names its images' arrays gets the same logits and the same gradients with the cache as without it, the tower
// runs once per array, and a tower that trains again is never served stale outputs. Bit for bit on the reference
// backend (these tests' default), whose products do not depend on the batch; on blas an image's tower outputs vary in
// the last bits with the images beside it (stages.ts keepTowerOutputs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Tensor } from '../../tensor/index.ts';
import { tinyTessera } from './tiny.ts';
import type { EncodedSample } from './processor.ts';
import type { TesseraBatch } from './model.ts';

const image = (r: number, g: number): { width: number; height: number; data: Uint8Array } =>
  ({ width: 20, height: 24, data: Uint8Array.from({ length: 20 * 24 * 3 }, (_, i) => (i % 3 === 0 ? r : i % 3 === 1 ? g : (i * 7) % 256)) });

function same(a: Tensor, b: Tensor): boolean {
  const x = a.toFloat32Array(), y = b.toFloat32Array();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

async function batches() {
  const { model, processor } = tinyTessera(7);
  const labelled = (s: EncodedSample): EncodedSample => ({ ...s, labels: s.inputIds.map((id, i) => (i % 2 ? id : -100)) });
  const a = labelled(await processor.encodePrompt([{ role: 'user', content: '<image>\nWhat color is the circle?' }], { images: [image(200, 30)] }, 'a'));
  const b = labelled(await processor.encodePrompt([{ role: 'user', content: '<image>\n<image>How many squares are there?' }], { images: [image(10, 240), image(90, 90)] }, 'b'));
  // c asks about a's image through the same array, as samples of one image file do once packed
  const c: EncodedSample = { ...b, id: 'c', pixelValues: [a.pixelValues[0]!, b.pixelValues[1]!] };
  const batch = processor.collate([a, b, c], { padSide: 'right' });
  assert.equal(batch.imageSources?.length, 5);
  const { imageSources: _, ...plain } = batch;
  return { model, batch, plain };
}

test('with the tower frozen, kept tower outputs give the same logits and gradients, one tower run per array', async () => {
  const { model, batch, plain } = await batches();
  model.vision!.freeze();
  const run = (b: TesseraBatch) => {
    for (const p of model.parameters()) p.grad = null;
    const out = model.forward(b);
    out.loss!.backward();
    return { logits: out.logits, grads: [...model.visionProjector!.parameters(), ...model.llm.parameters()].map((p) => p.grad!) };
  };
  const want = run(plain);
  model.cacheFrozenVisionFeatures();
  const forward = model.vision!.forward.bind(model.vision!);
  const towerImages: number[] = [];
  model.vision!.forward = (pixels, layer) => { towerImages.push(pixels.shape[0]!); return forward(pixels, layer); };
  const first = run(batch), second = run(batch);
  assert.deepEqual(towerImages, [3], 'the tower ran once, on the 3 distinct arrays of 5 images');
  for (const got of [first, second]) {
    assert.ok(same(got.logits, want.logits), 'logits as without the cache, bit for bit');
    got.grads.forEach((g, i) => assert.ok(same(g, want.grads[i]!), `gradient ${i} as without the cache`));
  }
});

test('a tower that trains again is run afresh, with its gradient', async () => {
  const { model, batch, plain } = await batches();
  model.vision!.freeze();
  model.cacheFrozenVisionFeatures();
  const before = model.forward(batch).logits;
  const w = [...model.vision!.parameters()][0]!;
  (w.storage as Float32Array)[w.offset] += 0.5; // what a training step of the tower would do
  assert.ok(same(model.forward(batch).logits, before), 'frozen: the kept outputs are used (the tower is not run again)');
  w.requiresGrad = true;
  const out = model.forward(batch);
  assert.ok(!same(out.logits, before), 'training: the tower runs again with its new weights');
  assert.ok(same(out.logits, model.forward(plain).logits), 'and equals the uncached forward');
  out.loss!.backward();
  assert.ok(w.grad && w.grad.toFloat32Array().some((v) => v !== 0), 'and the training tower gets its gradient');
});
