// TesseraModel invariants on a tiny random model: media rows land exactly on their placeholder positions,
// chunks embed as the batch path does, a batch of two equals two batches of one, cached greedy decoding equals a
// full recompute, the loss is ForCausalLMLoss, and count mismatches are named errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad, slice, tensor, type Tensor } from '../../tensor/index.ts';
import { tinyTessera } from './tiny.ts';
import type { EncodedSample } from './processor.ts';

const { model, processor } = tinyTessera(3);
const { imageTokenId, audioTokenId } = model.config;
const perImage = model.config.vision!.tokensPerImage;

function maxAbsDiff(a: Tensor, b: Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  const x = a.toFloat32Array(), y = b.toFloat32Array();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

const wave = (n: number, f: number): Float32Array => Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin(i * f));
const image = (r: number, g: number): { width: number; height: number; data: Uint8Array } =>
  ({ width: 20, height: 24, data: Uint8Array.from({ length: 20 * 24 * 3 }, (_, i) => (i % 3 === 0 ? r : i % 3 === 1 ? g : (i * 7) % 256)) });

async function samples(): Promise<EncodedSample[]> {
  const a = await processor.encodePrompt([{ role: 'user', content: '<image>\nWhat color is the circle? <audio>' }], { images: [image(200, 30)], audios: [wave(12000, 0.05)] }, 'a');
  const b = await processor.encodePrompt([{ role: 'user', content: '<audio><image>\n<image>How many squares are there?' }], { images: [image(10, 240), image(90, 90)], audios: [wave(30000, 0.2)] }, 'b');
  return [a, b];
}

test('image and audio features replace exactly their placeholder embeddings, row-major over the batch', async () => {
  const [a, b] = await samples();
  const batch = processor.collate([a!, b!], { padSide: 'right' });
  noGrad(() => {
    const x = model.embed(batch.inputIds, batch.pixelValues, { features: batch.audioFeatures!, lengths: batch.audioLengths });
    const plain = model.llm.model.embed(batch.inputIds);
    const img = model.imageFeatures(batch.pixelValues!); // [3, N, C]
    const aud = model.audioFeatures(batch.audioFeatures!, batch.audioLengths); // [ΣN, C]
    const [B, T, C] = x.shape as [number, number, number];
    const ids = batch.inputIds.toList(), xv = x.toFloat32Array(), pv = plain.toFloat32Array();
    const iv = img.toFloat32Array(), av = aud.toFloat32Array();
    let nImage = 0, nAudio = 0;
    for (let p = 0; p < B * T; p++) {
      const row = xv.subarray(p * C, p * C + C);
      const want = ids[p] === imageTokenId ? iv.subarray(nImage++ * C, nImage * C) : ids[p] === audioTokenId ? av.subarray(nAudio++ * C, nAudio * C) : pv.subarray(p * C, p * C + C);
      assert.deepEqual(Array.from(row), Array.from(want), `position ${p}`);
    }
    assert.equal(nImage, 3 * perImage);
    assert.equal(nAudio, aud.shape[0]);
    assert.deepEqual(batch.audioLengths, [75, 188]);
  });
});

test('embedChunks equals the batch path for one sequence', async () => {
  const [, b] = await samples();
  noGrad(() => {
    const chunks = processor.chunks(b!);
    assert.deepEqual(chunks.map((c) => c.kind), ['text', 'audio', 'image', 'text', 'image', 'text']);
    const viaChunks = model.embedChunks(chunks);
    assert.deepEqual(viaChunks.inputIds, b!.inputIds);
    const batch = processor.collate([b!], { padSide: 'right' });
    const viaBatch = model.embed(batch.inputIds, batch.pixelValues, { features: batch.audioFeatures!, lengths: batch.audioLengths });
    assert.ok(maxAbsDiff(viaChunks.embeds, viaBatch) < 1e-6);
    assert.throws(() => model.embedChunks([{ kind: 'text', ids: [1, imageTokenId] }]), /text chunk 0 holds media placeholder id/);
  });
});

test('a batch of two equals two batches of one; the loss is the mean CE over labelled next tokens', async () => {
  const [a, b] = await samples();
  const labelled = (s: EncodedSample): EncodedSample => ({ ...s, labels: s.inputIds.map((id, i) => (i % 3 === 0 && id !== imageTokenId && id !== audioTokenId ? id : -100)) });
  const la = labelled(a!), lb = labelled(b!);
  noGrad(() => {
    const both = model.forward(processor.collate([la, lb], { padSide: 'right' }));
    let worst = 0;
    [la, lb].forEach((s, row) => {
      const one = model.forward(processor.collate([s], { padSide: 'right' })).logits; // [1, L, V]
      const L = s.inputIds.length;
      worst = Math.max(worst, maxAbsDiff(slice(slice(both.logits, 0, row, row + 1), 1, 0, L), one));
    });
    assert.ok(worst < 1e-4, `max |batch − single| = ${worst}`);
    // The loss by hand: predict token t+1 from position t, averaged over every label ≠ −100 in the batch.
    const [B, T, V] = both.logits.shape as [number, number, number];
    const labels = processor.collate([la, lb], { padSide: 'right' }).labels!.toList();
    const lv = both.logits.toFloat32Array();
    let sum = 0, n = 0;
    for (let r = 0; r < B; r++) for (let t = 0; t + 1 < T; t++) {
      const y = labels[r * T + t + 1]!;
      if (y === -100) continue;
      const row = lv.subarray((r * T + t) * V, (r * T + t + 1) * V);
      const max = Math.max(...row);
      sum += Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0)) + max - row[y]!;
      n++;
    }
    assert.ok(n > 10);
    assert.ok(Math.abs(both.loss!.item() - sum / n) < 1e-4, `loss ${both.loss!.item()} vs ${sum / n}`);
  });
});

test('cached greedy generation with left padding equals a full recompute of each row', async () => {
  const [a, b] = await samples();
  const batch = processor.collate([a!, b!], { padSide: 'left' });
  const steps = 5;
  const gen = model.generate(batch, steps);
  [a!, b!].forEach((s, row) => {
    const tokens = gen.tokens[row]!;
    assert.equal(tokens.length, steps);
    for (let k = 0; k < steps; k++) {
      const ids = [...s.inputIds, ...tokens.slice(0, k)];
      const full = noGrad(() => model.forward({
        ...processor.collate([{ ...s, inputIds: ids, labels: ids.map(() => -100) }], { padSide: 'right' }), labels: null,
      }).logits); // [1, L, V]
      const L = ids.length;
      const last = slice(full, 1, L - 1, L).reshape([full.shape[2]!]);
      const cached = slice(gen.stepLogits[k]!, 0, row, row + 1).reshape([full.shape[2]!]);
      const d = maxAbsDiff(last, cached);
      assert.ok(d < 1e-4, `row ${row} step ${k}: max diff ${d}`);
      assert.equal(last.argmax(-1).item(), tokens[k]);
    }
  });
});

test('media/placeholder count mismatches are clear errors', async () => {
  const [a] = await samples();
  const batch = processor.collate([a!], { padSide: 'right' });
  noGrad(() => {
    assert.throws(() => model.forward({ ...batch, pixelValues: null }), /image tokens \(id \d+\) but no pixel values/);
    assert.throws(() => model.forward({ ...batch, audioFeatures: null }), /audio tokens \(id \d+\) but no audio features/);
    const twoImages = tensor(new Float32Array(2 * batch.pixelValues!.size), { shape: [2, ...batch.pixelValues!.shape.slice(1)] });
    assert.throws(() => model.forward({ ...batch, pixelValues: twoImages }), /image features and image tokens do not match/);
    assert.throws(() => model.forward({ ...batch, audioLengths: [300] }), /audio features and audio tokens do not match/);
    assert.throws(() => model.forward({ ...batch, audioLengths: [] }), /1 audio feature rows but 0 audio lengths/);
  });
});
