// The exports hold exactly the checkpoint keys transformers writes for LLaVA (SigLIP + Qwen2, tied) and
// Qwen2-Audio, compared with the shared HF fixtures' layouts at the fixtures' depths; the configs name the right
// architecture and token ids. (Loading in transformers and comparing logits: scripts/check_hf_export.py.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensors } from '../../io/safetensors.ts';
import { hfFixture } from '../../util/paths.ts';
import { exportTessera } from './export.ts';
import { tinyTessera } from './tiny.ts';

const root = mkdtempSync(join(tmpdir(), 'tessera-export-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

const llavaFixture = hfFixture('llava-siglip-qwen2');
const audioFixture = hfFixture('qwen2-audio');
const json = (path: string): Record<string, Record<string, unknown>> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, Record<string, unknown>>;
const keysOf = (path: string): string[] => {
  const r = openSafetensors(path);
  try { return r.keys().sort(); } finally { r.close(); }
};

test('hf-llava writes exactly the LLaVA checkpoint keys and a llava config', { skip: llavaFixture === null ? 'shared fixtures absent' : false }, () => {
  const fx = json(join(llavaFixture!, 'config.json'));
  const { model, processor } = tinyTessera(1, {
    layers: fx.text_config!.num_hidden_layers as number,
    vision: { imageSize: 32, patchSize: 8, hidden: 32, layers: fx.vision_config!.num_hidden_layers as number, heads: 4 },
  });
  const out = join(root, 'llava');
  exportTessera(model, processor, 'hf-llava', out);
  assert.deepEqual(keysOf(join(out, 'model.safetensors')), keysOf(join(llavaFixture!, 'model.safetensors')));
  const cfg = json(join(out, 'config.json'));
  assert.equal(cfg.model_type as unknown, 'llava');
  assert.equal(cfg.vision_feature_select_strategy as unknown, 'full');
  assert.equal(cfg.image_token_index as unknown, processor.imageTokenId);
  assert.equal(cfg.text_config!.model_type, 'qwen2');
  assert.equal(cfg.vision_config!.model_type, 'siglip_vision_model');
  assert.equal(json(join(out, 'preprocessor_config.json')).image_processor_type as unknown, 'SiglipImageProcessor');
  // The projector is LLaVA's linear_1 → gelu → linear_2 on the vision width.
  const r = openSafetensors(join(out, 'model.safetensors'));
  assert.deepEqual(r.info('multi_modal_projector.linear_1.weight').shape, [64, 32]);
  r.close();
});

test('hf-qwen2-audio writes the Qwen2-Audio checkpoint keys (hub layout) with an explicit lm_head', { skip: audioFixture === null ? 'shared fixtures absent' : false }, () => {
  const fx = json(join(audioFixture!, 'config.json'));
  const { model, processor } = tinyTessera(1, {
    layers: fx.text_config!.num_hidden_layers as number,
    audio: { melBins: 16, dModel: 32, layers: fx.audio_config!.encoder_layers as number, heads: 4, seconds: 3 },
  });
  const out = join(root, 'audio');
  exportTessera(model, processor, 'hf-qwen2-audio', out);
  // transformers 5.x saves the text body as language_model.model.model.*; hub checkpoints (which 5.x loads) use language_model.model.*.
  const expected = keysOf(join(audioFixture!, 'model.safetensors')).map((k) => k.replace('language_model.model.model.', 'language_model.model.')).sort();
  assert.deepEqual(keysOf(join(out, 'model.safetensors')), expected);
  const cfg = json(join(out, 'config.json'));
  assert.equal(cfg.model_type as unknown, 'qwen2_audio');
  assert.equal(cfg.audio_token_index as unknown, processor.audioTokenId);
  assert.equal(cfg.text_config!.tie_word_embeddings, false);
  assert.equal(json(join(out, 'preprocessor_config.json')).nb_max_frames as unknown, 300);
});

test('exporting a part the model lacks is a clear error', () => {
  const { model, processor } = tinyTessera(1, { vision: null, audio: null });
  assert.throws(() => exportTessera(model, processor, 'hf-llava', join(root, 'x')), /hf-llava: this tessera model has no vision tower/);
  assert.throws(() => exportTessera(model, processor, 'hf-qwen2-audio', join(root, 'y')), /hf-qwen2-audio: this tessera model has no audio encoder/);
});
