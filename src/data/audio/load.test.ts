// loadAudio: native WAV path with resampling, the real ffmpeg path (skipped when ffmpeg is absent), and its errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../util/paths.ts';
import { encodeWav } from './wav.ts';
import { loadAudio } from './load.ts';

const hasFfmpeg = spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status === 0;

function tone(freq: number, rate: number, seconds: number): Float32Array {
  return Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => 0.5 * Math.sin((2 * Math.PI * freq * i) / rate));
}

/** Normalised correlation of y with a sine/cosine pair at freq: 1 for a pure tone at that frequency. */
function toneAmplitude(y: Float32Array, freq: number, rate: number): number {
  const lo = Math.floor(y.length * 0.2), hi = Math.floor(y.length * 0.8);
  let s = 0, c = 0;
  for (let i = lo; i < hi; i++) {
    s += y[i]! * Math.sin((2 * Math.PI * freq * i) / rate);
    c += y[i]! * Math.cos((2 * Math.PI * freq * i) / rate);
  }
  return (2 * Math.hypot(s, c)) / (hi - lo);
}

test('WAV bytes and WAV paths are decoded natively and resampled to the target rate', async () => {
  const bytes = encodeWav(tone(1000, 44100, 0.5), 44100);
  const fromBytes = await loadAudio(bytes);
  assert.equal(fromBytes.decoder, 'wav');
  assert.equal(fromBytes.sampleRate, 16000);
  assert.equal(fromBytes.samples.length, 8000);
  assert.ok(Math.abs(toneAmplitude(fromBytes.samples, 1000, 16000) - 0.5) < 0.005);
  const dir = mkdtempSync(join(tmpdir(), 'tessera-load-test-'));
  try {
    writeFileSync(join(dir, 'a.wav'), bytes);
    const fromPath = await loadAudio(join(dir, 'a.wav'), 22050);
    assert.equal(fromPath.sampleRate, 22050);
    assert.equal(fromPath.samples.length, 11025);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ffmpeg decodes FLAC files and bytes, and μ-law WAV falls back to it', { skip: !hasFfmpeg && 'ffmpeg not on PATH' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-load-test-'));
  try {
    writeFileSync(join(dir, 'in.wav'), encodeWav(tone(440, 22050, 0.5), 22050));
    const enc = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', join(dir, 'in.wav'), join(dir, 'out.flac')]);
    assert.equal(enc.status, 0, enc.stderr.toString());
    const fromPath = await loadAudio(join(dir, 'out.flac'));
    assert.equal(fromPath.decoder, 'ffmpeg');
    assert.ok(Math.abs(fromPath.samples.length - 8000) <= 2, `length ${fromPath.samples.length}`);
    assert.ok(Math.abs(toneAmplitude(fromPath.samples, 440, 16000) - 0.5) < 0.01);
    const fromBytes = await loadAudio(readFileSync(join(dir, 'out.flac')), 8000);
    assert.ok(Math.abs(fromBytes.samples.length - 4000) <= 2);
    const mulaw = await loadAudio(join(repoRoot, 'test/fixtures/audio/mulaw.wav'));
    assert.equal(mulaw.decoder, 'ffmpeg');
    assert.ok(mulaw.samples.length >= 79 && mulaw.samples.length <= 81, `μ-law length ${mulaw.samples.length}`);
    await assert.rejects(loadAudio(new TextEncoder().encode('OggS but not really an ogg file at all')), /ffmpeg failed on <\d+ bytes> \(ogg\), exit 1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('errors name the missing ffmpeg, the missing file and broken WAVs', async () => {
  const flac = new TextEncoder().encode('fLaC\u0000\u0000\u0000\u0022 pretend');
  await assert.rejects(loadAudio(flac, 16000, { ffmpegPath: '/nonexistent/bin/ffmpeg' }),
    /is flac, not PCM WAV; decoding it needs ffmpeg, but "\/nonexistent\/bin\/ffmpeg" was not found/);
  await assert.rejects(loadAudio('/nonexistent/dir/speech.mp3'), /cannot read \/nonexistent\/dir\/speech\.mp3/);
  await assert.rejects(loadAudio(new Uint8Array(0)), /is empty/);
  const cut = encodeWav(tone(440, 16000, 0.01), 16000).subarray(0, 100);
  await assert.rejects(loadAudio(cut), /truncated data chunk/); // broken WAV is not silently passed to ffmpeg
  await assert.rejects(loadAudio(encodeWav(tone(440, 16000, 0.01), 16000), 0), /targetRate must be a positive integer/);
});
