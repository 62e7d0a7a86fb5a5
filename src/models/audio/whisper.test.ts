// Whisper encoder/decoder parity with transformers on fixtures/hf/whisper-encoder: embeddings, every encoder
// hidden state, the final norm, the sinusoidal table and the decoder's last hidden state, each within
// 1e-4·max(1, max|ref|). Also: a wrong frame count is a clear error, and gradients reach the conv weights.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openSafetensors } from '../../io/safetensors.ts';
import { avgPool1d, noGrad, randn, tensor, type Tensor } from '../../tensor/index.ts';
import { hfFixture } from '../../util/paths.ts';
import { loadWhisper } from '../mllm/whisper.ts';
import { readConfig } from '../registry.ts';
import { parseWhisperConfig, WhisperEncoder } from './whisper.ts';

const dir = hfFixture('whisper-encoder');

function readIo(fixture: string): (name: string) => Tensor {
  const r = openSafetensors(join(fixture, 'io.safetensors'));
  return (name) => {
    const t = r.read(name);
    return tensor(t.data, { shape: t.shape, dtype: t.dtype });
  };
}

function maxDiff(a: Tensor, b: Tensor): { diff: number; bound: number } {
  assert.deepEqual(a.shape, b.shape);
  const x = a.toFloat64(), y = b.toFloat64();
  let diff = 0, ref = 0;
  for (let i = 0; i < x.length; i++) { diff = Math.max(diff, Math.abs(x[i]! - y[i]!)); ref = Math.max(ref, Math.abs(y[i]!)); }
  return { diff, bound: 1e-4 * Math.max(1, ref) };
}

function assertClose(name: string, a: Tensor, b: Tensor): void {
  const { diff, bound } = maxDiff(a, b);
  console.log(`whisper ${name}: maxdiff ${diff.toExponential(2)} (bound ${bound.toExponential(2)})`);
  assert.ok(diff <= bound, `${name}: maxdiff ${diff} > ${bound}`);
}

test('Whisper encoder and decoder match transformers stage by stage', { skip: dir === null }, () => {
  const io = readIo(dir!);
  const m = loadWhisper(dir!, readConfig(dir!));
  const out = noGrad(() => m.forward(new Map([['input_features', io('input_features')], ['decoder_input_ids', io('decoder_input_ids')]])));
  const hs = io('encoder_hidden_states');
  const got = out.get('encoder_hidden_states')!;
  for (let i = 0; i < hs.shape[0]!; i++) assertClose(`encoder_hidden_states[${i}]`, got.slice(0, i, i + 1), hs.slice(0, i, i + 1));
  assertClose('encoder_last_hidden_state', out.get('encoder_last_hidden_state')!, io('encoder_last_hidden_state'));
  const enc = (m.module as unknown as { encoder: WhisperEncoder }).encoder;
  assertClose('encoder_embed_positions', enc.embedPositions.weight, io('encoder_embed_positions'));
  assertClose('decoder_last_hidden_state', out.get('decoder_last_hidden_state')!, io('decoder_last_hidden_state'));
  assert.equal(out.has('logits'), false, 'WhisperModel has no LM head');
});

test('Whisper sinusoid init equals the stored table, and the encoder rejects a wrong frame count', { skip: dir === null }, () => {
  const raw = readConfig(dir!);
  const cfg = parseWhisperConfig(raw);
  const fresh = new WhisperEncoder(cfg);
  assertClose('sinusoids (init)', fresh.embedPositions.weight, readIo(dir!)('encoder_embed_positions'));
  const bad = randn([1, cfg.numMelBins, 2 * cfg.maxSourcePositions - 2]);
  assert.throws(() => fresh.forward(bad), /2·max_source_positions/);
  assert.throws(() => parseWhisperConfig({ ...raw, d_model: 'x' }, 'cfg.json'), /cfg.json: "d_model"/);
});

test('Whisper encoder: gradients reach conv1 and the last layer; the position table stays frozen', () => {
  const cfg = parseWhisperConfig({ num_mel_bins: 4, d_model: 8, encoder_layers: 1, encoder_attention_heads: 2, encoder_ffn_dim: 16, max_source_positions: 3 });
  const enc = new WhisperEncoder(cfg);
  enc.forward(randn([2, 4, 6])).lastHiddenState.square().sum().backward();
  assert.ok(enc.conv1.weight.grad && enc.conv1.weight.grad.abs().sum().item() > 0);
  assert.ok(enc.layers[0]!.fc2.weight.grad && enc.layers[0]!.fc2.weight.grad.abs().sum().item() > 0);
  assert.equal(enc.embedPositions.weight.grad, null);
});

test('Whisper encoder pooling (Qwen2-Audio, stride 2) averages row pairs and drops an odd last frame, as avg_pool1d', () => {
  for (const frames of [3, 4]) {
    const cfg = parseWhisperConfig({ num_mel_bins: 4, d_model: 8, encoder_layers: 1, encoder_attention_heads: 2, encoder_ffn_dim: 16, max_source_positions: frames });
    const enc = new WhisperEncoder(cfg);
    const out = noGrad(() => enc.forward(randn([2, 4, 2 * frames]), { poolStride: 2 }));
    const h = out.hiddenStates.at(-1)!; // [2, frames, 8], before pooling and the final norm
    const want = noGrad(() => enc.layerNorm.forward(avgPool1d(h.transpose(1, 2), 2).transpose(1, 2)));
    assert.deepEqual(out.lastHiddenState.shape, [2, Math.floor(frames / 2), 8]);
    const diff = out.lastHiddenState.sub(want).abs().max().item();
    assert.ok(diff < 1e-6, `${frames} frames: max difference ${diff}`);
  }
});
