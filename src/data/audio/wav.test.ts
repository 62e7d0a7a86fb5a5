// WAV decoding checked against sox's own decoding of sox-written files (test/fixtures/audio/*.wav → *.f32,
// interleaved little-endian float32), plus hand-built files for chunk handling and every class of bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../util/paths.ts';
import { decodeWav, encodeWav, isWav } from './wav.ts';

const fixtures = join(repoRoot, 'test/fixtures/audio');

function soxReference(name: string): Float32Array {
  const b = readFileSync(join(fixtures, `${name}.f32`));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** A WAV file built chunk by chunk, so tests can place odd-sized and unknown chunks anywhere. */
function riff(chunks: Array<[string, Uint8Array]>, declaredSize?: number): Uint8Array {
  const parts: number[] = [];
  const push32 = (v: number): void => { parts.push(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255); };
  const ascii = (s: string): void => { for (const ch of s) parts.push(ch.charCodeAt(0)); };
  ascii('RIFF'); push32(0); ascii('WAVE');
  for (const [id, body] of chunks) {
    ascii(id); push32(id === 'data' && declaredSize !== undefined ? declaredSize : body.length);
    parts.push(...body);
    if (body.length & 1) parts.push(0);
  }
  const out = Uint8Array.from(parts);
  new DataView(out.buffer).setUint32(4, out.length - 8, true);
  return out;
}

function fmtBody(formatTag: number, channels: number, rate: number, bits: number): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  const align = channels * bits / 8;
  v.setUint16(0, formatTag, true); v.setUint16(2, channels, true); v.setUint32(4, rate, true);
  v.setUint32(8, rate * align, true); v.setUint16(12, align, true); v.setUint16(14, bits, true);
  return b;
}

function int16Body(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 2);
  values.forEach((x, i) => new DataView(b.buffer).setInt16(2 * i, x, true));
  return b;
}

test('decodes sox-written PCM 8/24/32-bit, float 32/64 and EXTENSIBLE files exactly as sox does', () => {
  const cases: Array<[string, number, number, number]> = [ // name, channels, rate, bits
    ['mono8', 1, 8000, 8], ['stereo24', 2, 22050, 24], ['pcm32', 2, 16000, 32], ['float32x3', 3, 16000, 32], ['float64', 1, 16000, 64],
  ];
  for (const [name, channels, rate, bits] of cases) {
    const wav = decodeWav(readFileSync(join(fixtures, `${name}.wav`)), { source: name });
    assert.equal(wav.channels, channels, name);
    assert.equal(wav.sampleRate, rate, name);
    assert.equal(wav.bitsPerSample, bits, name);
    const ref = soxReference(name);
    const frames = ref.length / channels;
    assert.equal(wav.samples.length, frames, name);
    let maxErr = 0, maxMix = 0;
    for (let f = 0; f < frames; f++) {
      let mix = 0;
      for (let c = 0; c < channels; c++) {
        maxErr = Math.max(maxErr, Math.abs(wav.channelData[c]![f]! - ref[f * channels + c]!));
        mix += ref[f * channels + c]!;
      }
      maxMix = Math.max(maxMix, Math.abs(wav.samples[f]! - mix / channels));
    }
    assert.ok(maxErr < 1e-7, `${name}: per-channel max diff ${maxErr}`);
    assert.ok(maxMix < 1e-6, `${name}: mixdown max diff ${maxMix}`);
    assert.ok(wav.samples.some((x) => Math.abs(x) > 0.1), `${name}: decoded signal is not silent`);
  }
});

test('encodeWav round-trips 16-bit PCM and clips out-of-range values', () => {
  const x = Float32Array.from({ length: 1001 }, (_, i) => Math.sin(i * 0.1) * 0.9);
  x[3] = 1.5; x[4] = -2;
  const bytes = encodeWav(x, 16000);
  assert.ok(isWav(bytes));
  const back = decodeWav(bytes);
  assert.equal(back.sampleRate, 16000);
  assert.equal(back.samples.length, x.length);
  assert.ok(Math.abs(back.samples[3]! - 32767 / 32768) < 1e-9);
  assert.equal(back.samples[4], -1);
  for (let i = 5; i < x.length; i++) assert.ok(Math.abs(back.samples[i]! - x[i]!) <= 0.5 / 32768 + 1e-9, `sample ${i}`);
});

test('skips LIST and unknown chunks, including odd-sized ones with a pad byte', () => {
  const wav = riff([
    ['LIST', Uint8Array.of(1, 2, 3)], // odd: followed by a pad byte
    ['fmt ', fmtBody(1, 1, 16000, 16)],
    ['junk', new Uint8Array(5)],
    ['data', int16Body([0, 16384, -16384, 32767])],
    ['LIST', new Uint8Array(4)],
  ]);
  const out = decodeWav(wav);
  assert.deepEqual(Array.from(out.samples), [0, 0.5, -0.5, 32767 / 32768]);
});

test('bad input gets an error naming what is wrong', () => {
  const good = riff([['fmt ', fmtBody(1, 1, 16000, 16)], ['data', int16Body([1, 2, 3, 4])]]);
  assert.throws(() => decodeWav(good.subarray(0, good.length - 3), { source: 'cut.wav' }), /WAV cut\.wav: truncated data chunk \(declares 8 bytes, only 5 remain\)/);
  assert.throws(() => decodeWav(good.subarray(0, 7)), /truncated file \(7 bytes/);
  assert.throws(() => decodeWav(new TextEncoder().encode('ID3\u0003 this is an mp3 file')), /not a RIFF file \(starts with "ID3\\u0003"\)/);
  assert.throws(() => decodeWav(readFileSync(join(fixtures, 'mulaw.wav'))), /unsupported WAV format code 0x0007 \(mu-law\)/);
  assert.throws(() => decodeWav(riff([['fmt ', fmtBody(0x55, 1, 16000, 16)], ['data', new Uint8Array(4)]])), /0x0055 \(MPEG Layer 3\)/);
  assert.throws(() => decodeWav(riff([['fmt ', fmtBody(1, 1, 16000, 16)], ['data', new Uint8Array(0)]])), /data chunk is empty/);
  assert.throws(() => decodeWav(riff([['data', int16Body([1, 2])]])), /no fmt chunk/);
  assert.throws(() => decodeWav(riff([['fmt ', fmtBody(1, 1, 16000, 16)]])), /no data chunk/);
  assert.throws(() => decodeWav(riff([['fmt ', fmtBody(1, 1, 16000, 12)], ['data', new Uint8Array(6)]])), /unsupported PCM bit depth 12/);
  assert.throws(() => decodeWav(riff([['fmt ', fmtBody(1, 1, 16000, 16)], ['data', new Uint8Array(5)]])), /not a multiple of the 2-byte sample frame/);
  assert.throws(() => decodeWav(riff([['fmt ', fmtBody(1, 1, 16000, 16)], ['data', new Uint8Array(8)]], 0xfffffff0)), /truncated data chunk \(declares 4294967280 bytes/);
  assert.throws(() => decodeWav(riff([['fmt ', fmtBody(1, 1, 16000, 16)], ['data', new Uint8Array(3200)]]), { maxSeconds: 0.05 }), /0\.1 s of audio exceeds the limit of 0\.05 s/);
  assert.throws(() => decodeWav(riff([['fmt ', fmtBody(1, 0, 16000, 16)], ['data', new Uint8Array(4)]])), /channel count 0|block align/);
  assert.throws(() => decodeWav(riff([['LIST', new Uint8Array(4)]]).subarray(0, 22)), /chunk "LIST" declares 4 bytes, only 2 remain/);
});
