// Spoken digits for asr-digits, audio-number and cross-count. espeak-ng (varied base voice, variant, speed,
// pitch, word gap) speaks either the whole phrase or each word separately, which we then join with our own
// pauses (a simple concatenative variant). sox then alters the voice beyond espeak's defaults: pitch shift,
// tempo, an EQ bump that moves the formant balance, optional telephone band and reverb, and resamples to
// 16 kHz (`rate -h`, float output so sox adds no dither noise). We trim, pad, add seeded noise and gain, and
// write 16-bit WAV. Every choice comes from the record's Rng, so the bytes are fixed by the seed.
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Rng } from './prng.ts';
import type { SpeechScene } from './sample.ts';
import { MAX_SECONDS, SAMPLE_RATE } from './tones.ts';
import { HELDOUT_VARIANTS, HELDOUT_VOICES } from './vocab.ts';
import type { Split } from './vocab.ts';
import { decodeWav, encodeWav16 } from './wav.ts';
import { ESPEAK_RATE, speakInProcess } from './espeak.ts';

const run = promisify(execFile);

/** Runs a program the speech tasks need; a missing one is named, with the Debian package that brings it. */
async function runProgram(program: 'espeak-ng' | 'sox', args: string[], use: string): Promise<void> {
  try {
    await run(program, args);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    throw new Error(`${program} is not installed (or not on PATH): the speech tasks (asr-digits, audio-number, cross-count) ${use}; on Debian: apt-get install ${program}`);
  }
}

export const BASE_VOICES = [
  'en', 'en-us', 'en-gb-scotland', 'en-gb-x-gbclan', 'en-gb-x-rp', 'en-gb-x-gbcwmd', 'en-us-nyc', 'en-029',
] as const;
/** espeak-ng variant files (`espeak-ng --voices=variant`); '' is the base voice alone. */
export const VARIANTS = [
  '', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'f1', 'f2', 'f3', 'f4', 'f5', 'Alex', 'Andy', 'Annie', 'belinda',
  'benjamin', 'caleb', 'david', 'ed', 'john', 'linda', 'max', 'michel', 'paul', 'quincy', 'rob', 'robert', 'steph',
  'zac', 'aunty', 'grandpa', 'klatt', 'iven', 'anika', 'Storm', 'Lee', 'Mario',
] as const;

export function voicesFor(split: Split): { bases: string[]; variants: string[] } {
  const bases = BASE_VOICES.filter((v) => split === 'heldout' || !HELDOUT_VOICES.includes(v));
  const variants = VARIANTS.filter((v) => split === 'heldout' || !HELDOUT_VARIANTS.includes(v));
  return { bases, variants };
}

/** A voice for one utterance; half of held-out items use a held-out base voice or variant. */
function pickVoice(rng: Rng, split: Split): string {
  const { bases, variants } = voicesFor(split);
  if (split === 'heldout' && rng.bool(0.5)) {
    return rng.bool() ? `${rng.pick(HELDOUT_VOICES)}+${rng.pick(variants)}` : `${rng.pick(bases)}+${rng.pick(HELDOUT_VARIANTS)}`;
  }
  const base = rng.pick(bases);
  const variant = rng.pick(variants);
  return variant ? `${base}+${variant}` : base;
}

// libespeak-ng in this process where it loads (espeak.ts: the same samples, without a process per call), else
// the espeak-ng program; its rate (22050 Hz) is checked on every file it writes.
async function espeak(tmpFile: string, voice: string, speed: number, pitch: number, gap: number, text: string): Promise<Float32Array> {
  const samples = speakInProcess(voice, speed, pitch, gap, text);
  if (samples) return trimSilence(samples, ESPEAK_RATE, 0.03);
  await runProgram('espeak-ng', ['-w', tmpFile, '-v', voice, '-s', String(speed), '-p', String(pitch), '-g', String(gap), text], 'are spoken by it');
  const wav = decodeWav(await readFile(tmpFile), `espeak-ng output for ${JSON.stringify(text)}`);
  await rm(tmpFile, { force: true });
  if (wav.sampleRate !== ESPEAK_RATE || wav.channels !== 1) throw new Error(`espeak-ng wrote ${wav.sampleRate} Hz, ${wav.channels} channels; expected ${ESPEAK_RATE} Hz mono`);
  return trimSilence(wav.samples, wav.sampleRate, 0.03);
}

/** Drops leading/trailing samples below 3 % of the peak, keeping `keep` seconds of margin. */
export function trimSilence(x: Float32Array, rate: number, keep: number): Float32Array {
  let peak = 0;
  for (const v of x) peak = Math.max(peak, Math.abs(v));
  if (peak === 0) return x;
  const thr = peak * 0.03;
  let a = 0;
  let b = x.length - 1;
  while (a < b && Math.abs(x[a]!) < thr) a++;
  while (b > a && Math.abs(x[b]!) < thr) b--;
  const k = Math.round(keep * rate);
  return x.slice(Math.max(0, a - k), Math.min(x.length, b + 1 + k));
}

function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Float32 raw in, float32 raw out at 16 kHz; the effects list is sox syntax. */
async function soxProcess(tmpDir: string, tag: string, x: Float32Array, rate: number, effects: readonly string[]): Promise<Float32Array> {
  const inFile = join(tmpDir, `${tag}.in.f32`);
  const outFile = join(tmpDir, `${tag}.out.f32`);
  await writeFile(inFile, Buffer.from(x.buffer, x.byteOffset, x.byteLength));
  const raw = (r: number) => ['-t', 'raw', '-e', 'floating-point', '-b', '32', '-c', '1', '-r', String(r)];
  await runProgram('sox', ['-R', '-D', '-V1', ...raw(rate), inFile, ...raw(SAMPLE_RATE), outFile, ...effects.flatMap((e) => e.split(' ')), 'rate', '-h', String(SAMPLE_RATE)],
    'alter their voices with it');
  const b = await readFile(outFile);
  await Promise.all([rm(inFile, { force: true }), rm(outFile, { force: true })]);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function drawEffects(rng: Rng): string[] {
  const fx: string[] = [];
  if (rng.bool(0.5)) fx.push(`pitch ${rng.int(-400, 400)}`);
  if (rng.bool(0.5)) fx.push(`tempo -s ${rng.uniform(0.85, 1.2).toFixed(3)}`);
  // An EQ bump/notch at a random place in the formant range shifts the voice's colour.
  if (rng.bool(0.5)) fx.push(`equalizer ${rng.int(400, 3200)} ${rng.uniform(0.7, 2).toFixed(2)}q ${rng.int(-9, 9)}`);
  if (rng.bool(0.15)) fx.push('sinc 300-3400');
  if (rng.bool(0.25)) fx.push(`reverb ${rng.int(10, 50)} 50 ${rng.int(20, 80)}`);
  return fx;
}

export interface Utterance {
  readonly wav: Buffer;
  readonly scene: SpeechScene;
}

/**
 * Speaks `words` into a 16 kHz mono 16-bit WAV of at most 3 s. `tmpDir` must exist; `tag` must be unique per
 * concurrent call (it names the temporary files).
 */
export async function speak(rng: Rng, split: Split, words: readonly string[], tmpDir: string, tag: string): Promise<Utterance> {
  const voice = pickVoice(rng, split);
  const speed = rng.int(130, 220);
  const pitch = rng.int(20, 80);
  const mode = rng.bool(0.5) ? 'phrase' : 'concat';
  const effects = drawEffects(rng);
  const pauses = words.map(() => rng.uniform(0.08, 0.35));
  const tmp = join(tmpDir, `${tag}.wav`);
  let rate = ESPEAK_RATE;
  let speech: Float32Array;
  if (mode === 'phrase') {
    const text = words.join(rng.bool() ? ', ' : ' ');
    speech = await espeak(tmp, voice, speed, pitch, rng.int(5, 30), text);
  } else {
    const parts: Float32Array[] = [];
    for (const [i, w] of words.entries()) {
      if (i > 0) parts.push(new Float32Array(Math.round(pauses[i]! * rate)));
      parts.push(await espeak(tmp, voice, speed, pitch, 0, w));
    }
    speech = concat(parts);
  }
  let y = await soxProcess(tmpDir, tag, speech, rate, effects);
  const lead = rng.uniform(0, 0.3);
  const tail = rng.uniform(0.05, 0.3);
  let seconds = y.length / SAMPLE_RATE + lead + tail;
  if (seconds > MAX_SECONDS) {
    // Too long: speed up (pitch kept) just enough to fit.
    const factor = (y.length / SAMPLE_RATE) / (MAX_SECONDS - lead - tail - 0.02);
    effects.push(`tempo -s ${factor.toFixed(3)}`);
    y = await soxProcess(tmpDir, `${tag}.fit`, y, SAMPLE_RATE, [`tempo -s ${factor.toFixed(3)}`]);
    seconds = y.length / SAMPLE_RATE + lead + tail;
  }
  rate = SAMPLE_RATE;
  const out = new Float32Array(Math.min(Math.round(MAX_SECONDS * rate), Math.round(seconds * rate)));
  let peak = 1e-9;
  for (const v of y) peak = Math.max(peak, Math.abs(v));
  const gain = rng.uniform(0.3, 0.95) / peak;
  const noise = rng.bool(0.5) ? rng.uniform(0.001, 0.015) : 0;
  const offset = Math.round(lead * rate);
  for (let i = 0; i < out.length; i++) {
    const s = i - offset >= 0 && i - offset < y.length ? y[i - offset]! * gain : 0;
    out[i] = s + noise * rng.normal();
  }
  const scene: SpeechScene = { kind: 'speech', words: words.slice(), voice, speed, pitch, mode, effects, seconds: out.length / rate };
  return { wav: encodeWav16(out, rate), scene };
}
