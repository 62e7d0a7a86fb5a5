// The gated projectors: the gate starts at the init std (media rows commensurate with text embeddings), it is
// saved and loaded with the model, and folding it into the last Linear (what the HF exports write) gives the
// same projector output as the gated forward.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { activation } from '../../io/hf/activations.ts';
import { Rng, noGrad, tensor } from '../../tensor/index.ts';
import { loadTessera, saveTessera } from './checkpoint.ts';
import { exportTensors } from './export.ts';
import { foldGate, GatedLinearProjector, GatedMlpProjector } from './gate.ts';
import { tinyTessera } from './tiny.ts';

const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
const rms = (x: Float32Array): number => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);

test('initTessera starts both projector gates at the init std; the gates round-trip through save/load', () => {
  const { model, processor } = tinyTessera(3, {}, { std: 0.05 });
  const vp = model.visionProjector, ap = model.audioProjector;
  assert.ok(vp instanceof GatedMlpProjector && ap instanceof GatedLinearProjector);
  for (const g of [vp.gate, ap.gate]) assert.ok(g.toFloat32Array().every((v) => Math.abs(v - 0.05) < 1e-7));
  const dir = mkdtempSync(join(tmpdir(), 'tessera-gate-'));
  try {
    noGrad(() => (vp.gate.storage as Float32Array).fill(0.3, 0, 5));
    saveTessera(dir, model, processor);
    const back = loadTessera(dir).model;
    assert.equal(back.config.projectorGate, true);
    const bp = back.visionProjector;
    assert.ok(bp instanceof GatedMlpProjector);
    assert.deepEqual(bp.gate.toFloat32Array(), vp.gate.toFloat32Array());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('media rows start near the text-embedding scale, not orders of magnitude above it', () => {
  const { model } = tinyTessera(1, {}, { std: 0.07 });
  const rng = new Rng(2);
  const pixels = tensor(Float32Array.from({ length: 2 * 3 * 32 * 32 }, () => rng.normal()), { shape: [2, 3, 32, 32] });
  const media = noGrad(() => model.imageFeatures(pixels).toFloat32Array());
  const text = rms(model.llm.model.embed_tokens.weight.toFloat32Array());
  assert.ok(rms(media) < 10 * text && rms(media) > text / 10, `media rms ${rms(media)} vs text rms ${text}`);
});

test('folding the gate into the last Linear reproduces the gated projector exactly (HF export)', () => {
  const { model } = tinyTessera(4, {}, { std: 0.1, jitter: 0.1 });
  const vp = model.visionProjector as GatedMlpProjector, ap = model.audioProjector as GatedLinearProjector;
  const rng = new Rng(5);
  noGrad(() => {
    for (const g of [vp.gate, ap.gate]) { const d = g.storage as Float32Array; for (let i = 0; i < d.length; i++) d[i] = rng.normal(); }
  });
  const x = tensor(Float32Array.from({ length: 3 * 32 }, () => rng.normal()), { shape: [3, 32] });
  const vf = foldGate('visionProjector', vp), af = foldGate('audioProjector', ap);
  const plain = noGrad(() => {
    const h = activation('gelu', 'test')(vp.linear_1.forward(x));
    const w2 = vf.get('visionProjector.linear_2.weight')!, b2 = vf.get('visionProjector.linear_2.bias')!;
    const v = h.matmul(tensor(w2.data, { shape: w2.shape }).transpose(0, 1)).add(tensor(b2.data, { shape: b2.shape }));
    const wa = af.get('audioProjector.linear.weight')!, ba = af.get('audioProjector.linear.bias')!;
    const a = x.matmul(tensor(wa.data, { shape: wa.shape }).transpose(0, 1)).add(tensor(ba.data, { shape: ba.shape }));
    return { v: v.toFloat32Array(), a: a.toFloat32Array() };
  });
  const gated = noGrad(() => ({ v: vp.forward(x).toFloat32Array(), a: ap.forward(x).toFloat32Array() }));
  assert.ok(maxDiff(plain.v, gated.v) < 1e-5, `vision projector maxdiff ${maxDiff(plain.v, gated.v)}`);
  assert.ok(maxDiff(plain.a, gated.a) < 1e-5, `audio projector maxdiff ${maxDiff(plain.a, gated.a)}`);
  const llava = exportTensors(model, 'hf-llava');
  assert.ok(!Object.keys(llava).some((k) => k.endsWith('.gate')), 'no gate key in the LLaVA export');
  assert.deepEqual(Array.from(llava['multi_modal_projector.linear_2.weight']!.data as Float32Array), Array.from(vf.get('visionProjector.linear_2.weight')!.data));
  const audio = exportTensors(model, 'hf-qwen2-audio');
  assert.deepEqual(Array.from(audio['multi_modal_projector.linear.bias']!.data as Float32Array), Array.from(af.get('audioProjector.linear.bias')!.data));
});
