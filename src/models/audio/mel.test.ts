// Golden tests of the Whisper log-mel front end against the HF fixtures (whisper-encoder, qwen2-audio), plus invariants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hfFixture } from '../../util/paths.ts';
import { melFilterBank, hertzToMel, melToHertz, WhisperFeatureExtractor, whisperFeatureConfig } from './mel.ts';

interface RawTensor { dtype: string; shape: number[]; bytes: Uint8Array }

/** Just enough of safetensors to read float32/int64 fixture tensors (8-byte header length, JSON header, data). */
function readSafetensors(path: string): Map<string, RawTensor> {
  const buf = readFileSync(path);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, RawTensor>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const start = 8 + headerLen + t.data_offsets[0], end = 8 + headerLen + t.data_offsets[1];
    out.set(name, { dtype: t.dtype, shape: t.shape, bytes: new Uint8Array(buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + end)) });
  }
  return out;
}

function f32(t: Map<string, RawTensor>, name: string): Float32Array {
  const r = t.get(name);
  assert.ok(r && r.dtype === 'F32', `fixture tensor ${name} missing or not F32`);
  return new Float32Array(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength / 4);
}

function i64(t: Map<string, RawTensor>, name: string): number[] {
  const r = t.get(name);
  assert.ok(r && r.dtype === 'I64', `fixture tensor ${name} missing or not I64`);
  return Array.from(new BigInt64Array(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength / 8), Number);
}

function shape(t: Map<string, RawTensor>, name: string): number[] {
  return t.get(name)?.shape ?? [];
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

function loadFixture(name: string): { io: Map<string, RawTensor>; pre: unknown } | null {
  const dir = hfFixture(name);
  if (!dir) return null;
  return { io: readSafetensors(join(dir, 'io.safetensors')), pre: JSON.parse(readFileSync(join(dir, 'preprocessor_config.json'), 'utf8')) };
}

test('slaney mel scale round-trips and is linear below 1 kHz', () => {
  assert.equal(hertzToMel(600), 9);
  for (const hz of [0, 300, 999, 1000, 4000, 8000]) assert.ok(Math.abs(melToHertz(hertzToMel(hz)) - hz) < 1e-9);
  for (const hz of [0, 440, 8000]) assert.ok(Math.abs(melToHertz(hertzToMel(hz, 'htk'), 'htk') - hz) < 1e-9);
});

test('whisper-encoder: mel filter bank equals transformers mel_filters', { skip: !hfFixture('whisper-encoder') }, () => {
  const fx = loadFixture('whisper-encoder')!;
  const cfg = whisperFeatureConfig(fx.pre);
  const want = f32(fx.io, 'mel_filters');
  assert.deepEqual(shape(fx.io, 'mel_filters'), [Math.floor(cfg.nFft / 2) + 1, cfg.featureSize]);
  const got = melFilterBank(cfg.featureSize, cfg.nFft, cfg.samplingRate, { fmin: 0, fmax: 8000, norm: 'slaney', scale: 'slaney' });
  const d = maxAbsDiff(got, want);
  console.log(`mel_filters maxdiff ${d.toExponential(2)}`);
  assert.ok(d < 1e-6, `mel_filters maxdiff ${d}`);
});

test('whisper-encoder: input_features and attention mask match the fixture', { skip: !hfFixture('whisper-encoder') }, () => {
  const fx = loadFixture('whisper-encoder')!;
  const fe = WhisperFeatureExtractor.fromPreprocessorConfig(fx.pre);
  const out = fe.extract(f32(fx.io, 'waveform'), { sampleRate: fe.config.samplingRate });
  assert.deepEqual([out.batch, out.nMels, out.nFrames], shape(fx.io, 'input_features'));
  const dTorch = maxAbsDiff(out.inputFeatures, f32(fx.io, 'input_features'));
  const dNumpy = maxAbsDiff(out.inputFeatures, f32(fx.io, 'input_features_numpy_path'));
  console.log(`input_features maxdiff vs torch path ${dTorch.toExponential(2)}, vs numpy path ${dNumpy.toExponential(2)}`);
  assert.ok(dTorch < 1e-4, `input_features maxdiff ${dTorch}`);
  assert.ok(dNumpy < 1e-4, `input_features_numpy_path maxdiff ${dNumpy}`);
  assert.deepEqual(Array.from(out.attentionMask), i64(fx.io, 'feature_attention_mask'));
});

test('qwen2-audio: batched features of two lengths and feature_attention_mask match', { skip: !hfFixture('qwen2-audio') }, () => {
  const fx = loadFixture('qwen2-audio')!;
  const fe = WhisperFeatureExtractor.fromPreprocessorConfig(fx.pre);
  const [batch, maxSamples] = shape(fx.io, 'waveforms') as [number, number];
  const all = f32(fx.io, 'waveforms');
  const lengths = i64(fx.io, 'waveform_lengths');
  const waves = lengths.map((len, b) => all.subarray(b * maxSamples, b * maxSamples + len));
  assert.equal(waves.length, batch);
  const out = fe.extract(waves);
  assert.deepEqual([out.batch, out.nMels, out.nFrames], shape(fx.io, 'input_features'));
  const d = maxAbsDiff(out.inputFeatures, f32(fx.io, 'input_features'));
  console.log(`qwen2-audio input_features maxdiff ${d.toExponential(2)}`);
  assert.ok(d < 1e-4, `input_features maxdiff ${d}`);
  assert.deepEqual(Array.from(out.attentionMask), i64(fx.io, 'feature_attention_mask'));
});

test('batch of two equals two batches of one; long input is truncated to the chunk', () => {
  const fe = new WhisperFeatureExtractor(whisperFeatureConfig({ feature_size: 16, chunk_length: 1, sampling_rate: 8000, hop_length: 80, n_fft: 200 }));
  const a = Float32Array.from({ length: 5000 }, (_, i) => Math.sin(i * 0.05) * 0.3);
  const b = Float32Array.from({ length: 9000 }, (_, i) => Math.sin(i * 0.21) * 0.1 + Math.cos(i * 0.013) * 0.2);
  const both = fe.extract([a, b]);
  const one = fe.extract(a), two = fe.extract(b);
  const per = both.nMels * both.nFrames;
  assert.deepEqual(both.inputFeatures.subarray(0, per), one.inputFeatures);
  assert.deepEqual(both.inputFeatures.subarray(per), two.inputFeatures);
  assert.deepEqual(two.inputFeatures, fe.extract(b.subarray(0, fe.nSamples)).inputFeatures);
  assert.equal(two.attentionMask.reduce((s, v) => s + v, 0), fe.nFrames);
  assert.equal(one.attentionMask.reduce((s, v) => s + v, 0), Math.ceil(5000 / 80));
});

test('bad configs and inputs are named in the error', () => {
  assert.throws(() => whisperFeatureConfig({ n_fft: '400' }, 'x.json'), /x\.json: "n_fft" must be a finite number/);
  assert.throws(() => whisperFeatureConfig({ hop_length: 0 }), /"hop_length" must be a positive integer/);
  assert.throws(() => whisperFeatureConfig([]), /expected a JSON object/);
  const fe = new WhisperFeatureExtractor(whisperFeatureConfig({ chunk_length: 1 }));
  assert.throws(() => fe.extract(new Float32Array(10), { sampleRate: 44100 }), /44100 Hz .* expects 16000 Hz/);
  assert.throws(() => fe.extract(Float32Array.of(0, NaN)), /non-finite sample at index 1/);
  assert.throws(() => fe.extract([]), /no waveforms/);
});
