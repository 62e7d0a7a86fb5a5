// The checkpoint folder: save → load gives identical logits, the registry loads it as model_type "tessera" and
// runs forward/generate on named inputs, initTessera is deterministic, a damaged folder is a named error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensors } from '../../io/safetensors.ts';
import { loadModel } from '../registry.ts';
import { noGrad, tensor, type Tensor } from '../../tensor/index.ts';
import { initTessera, loadTessera, saveTessera } from './checkpoint.ts';
import { tinyTessera } from './tiny.ts';

const root = mkdtempSync(join(tmpdir(), 'tessera-ckpt-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
const tiny = tinyTessera(7);

const same = (a: Tensor, b: Tensor): void => assert.deepEqual(Array.from(a.toFloat32Array()), Array.from(b.toFloat32Array()));

test('save → load gives the same files, parameters and logits', async () => {
  const dir = join(root, 'a');
  saveTessera(dir, tiny.model, tiny.processor);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config.model_type, 'tessera');
  assert.equal((config.text_config as Record<string, unknown>).model_type, 'qwen2');
  assert.equal((config.vision_config as Record<string, unknown>).model_type, 'siglip_vision_model');
  assert.equal((config.audio_config as Record<string, unknown>).model_type, 'qwen2_audio_encoder');
  assert.equal(readFileSync(join(dir, 'chat_template.jinja'), 'utf8'), tiny.processor.files.chatTemplate);
  const keys = openSafetensors(join(dir, 'model.safetensors')).keys().sort();
  assert.deepEqual(keys, [...tiny.model.namedParameters()].map(([n]) => n).sort());
  assert.ok(keys.includes('visionProjector.linear_1.weight') && keys.includes('audioProjector.linear.weight') && keys.includes('llm.model.embed_tokens.weight'));

  const { model, processor } = loadTessera(dir);
  const sample = await processor.encodePrompt([{ role: 'user', content: '<image>\nWhat color is the circle? <audio>' }],
    { images: [{ width: 9, height: 13, data: new Uint8Array(9 * 13 * 3).fill(120) }], audios: [new Float32Array(9000).fill(0.05)] });
  const batch = processor.collate([sample], { padSide: 'right' });
  noGrad(() => same(model.forward(batch).logits, tiny.model.forward(batch).logits));

  const loaded = await loadModel(dir);
  assert.equal(loaded.modelType, 'tessera');
  const named = new Map<string, Tensor>([
    ['input_ids', batch.inputIds], ['attention_mask', batch.attentionMask], ['pixel_values', batch.pixelValues!],
    ['input_features', batch.audioFeatures!],
    ['feature_attention_mask', tensor(Int32Array.from({ length: 300 }, (_, f) => (f < batch.audioLengths[0]! ? 1 : 0)), { shape: [1, 300], dtype: 'int32' })],
    ['labels', batch.inputIds],
  ]);
  const out = noGrad(() => loaded.forward(named));
  noGrad(() => same(out.get('logits')!, tiny.model.forward(batch).logits));
  assert.ok(Number.isFinite(out.get('loss')!.item()));
  const gen = loaded.generate!(named, 3);
  assert.deepEqual(gen, tiny.model.generate(batch, 3, processor.eosTokenId).tokens);
});

test('initTessera is deterministic per seed', () => {
  const a = initTessera(tiny.config, 11), b = initTessera(tiny.config, 11), c = initTessera(tiny.config, 12);
  const pa = [...a.namedParameters()], pb = new Map(b.namedParameters()), pc = new Map(c.namedParameters());
  for (const [name, p] of pa) same(p, pb.get(name)!);
  const w = 'llm.model.layers.0.self_attn.q_proj.weight';
  assert.notDeepEqual(Array.from(pa.find(([n]) => n === w)![1].toFloat32Array()), Array.from(pc.get(w)!.toFloat32Array()));
  const norm = pa.find(([n]) => n === 'llm.model.norm.weight')![1].toFloat32Array();
  assert.ok(norm.every((v) => v === 1), 'norm weights start at 1 without jitter');
});

test('initTessera starts the ViT positions as the 2D sin-cos grid at RMS 1, the patch embeddings at their scale', () => {
  const m = initTessera(tiny.config, 3);
  const pos = m.vision!.embeddings.position_embedding.weight.toFloat32Array();
  const g = m.config.vision!.vit.imageSize / m.config.vision!.vit.patchSize, C = m.config.vision!.vit.hiddenSize, q = C / 4;
  assert.equal(pos.length, g * g * C);
  // patch (row 1, col 2): channels [sin(row·ω), cos(row·ω), sin(col·ω), cos(col·ω)] × √2, ω_k = 10000^(−k/q)
  const at = (1 * g + 2) * C, k = 1, w = 1 / Math.pow(10000, k / q);
  assert.ok(Math.abs(pos[at + k]! - Math.SQRT2 * Math.sin(w)) < 1e-6);
  assert.ok(Math.abs(pos[at + q + k]! - Math.SQRT2 * Math.cos(w)) < 1e-6);
  assert.ok(Math.abs(pos[at + 2 * q + k]! - Math.SQRT2 * Math.sin(2 * w)) < 1e-6);
  const rms = Math.sqrt(pos.reduce((s, v) => s + v * v, 0) / pos.length);
  assert.ok(Math.abs(rms - 1) < 1e-5, `position RMS ${rms}`);
});
