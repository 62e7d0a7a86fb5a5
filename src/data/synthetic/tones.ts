// The beeps and pitch tasks: sine beeps (300–1500 Hz, 60–250 ms, gaps 60–250 ms) in light noise, and two
// tones at least 3 semitones apart, each 150–400 ms. Samples are made here at 16 kHz; every tone gets a short
// raised-cosine ramp so on/offsets do not click (clicks would add countable transients).
import type { Rng } from './prng.ts';
import { plainSample } from './sample.ts';
import type { Sample, ToneScene } from './sample.ts';
import { encodeWav16 } from './wav.ts';

export const SAMPLE_RATE = 16000;
export const MAX_SECONDS = 3;

interface Tone {
  readonly start: number;
  readonly dur: number;
  readonly freq: number;
}

/** Renders tones with a per-item timbre (pure sine, or sine plus weak harmonics for `pitch`) and white noise. */
function renderTones(rng: Rng, tones: readonly Tone[], seconds: number, harmonics: readonly number[]): Float32Array {
  const n = Math.round(seconds * SAMPLE_RATE);
  const out = new Float32Array(n);
  const noise = rng.uniform(0.002, 0.02);
  for (let i = 0; i < n; i++) out[i] = noise * rng.normal();
  const norm = 1 + harmonics.reduce((a, h) => a + h, 0);
  for (const t of tones) {
    const amp = rng.uniform(0.25, 0.6);
    const phase = rng.uniform(0, Math.PI * 2);
    const ramp = rng.uniform(0.004, 0.012) * SAMPLE_RATE;
    const s0 = Math.round(t.start * SAMPLE_RATE);
    const len = Math.round(t.dur * SAMPLE_RATE);
    for (let k = 0; k < len && s0 + k < n; k++) {
      const env = Math.min(1, k / ramp, (len - 1 - k) / ramp);
      const w = 0.5 - 0.5 * Math.cos(Math.PI * Math.max(0, env));
      let v = Math.sin(phase + (2 * Math.PI * t.freq * k) / SAMPLE_RATE);
      harmonics.forEach((h, j) => (v += h * Math.sin((j + 2) * (phase + (2 * Math.PI * t.freq * k) / SAMPLE_RATE))));
      out[s0 + k]! += (amp * w * v) / norm;
    }
  }
  return out;
}

export function beeps(rng: Rng): Sample {
  const count = rng.int(1, 5);
  const sameFreq = rng.bool(0.6);
  const f0 = rng.uniform(300, 1500);
  const tones: Tone[] = [];
  let t = rng.uniform(0.05, 0.3);
  for (let i = 0; i < count; i++) {
    const dur = rng.uniform(0.06, 0.25);
    tones.push({ start: t, dur, freq: sameFreq ? f0 : rng.uniform(300, 1500) });
    t += dur + rng.uniform(0.06, 0.25);
  }
  const seconds = Math.min(MAX_SECONDS, t + rng.uniform(0, 0.3));
  const audio = encodeWav16(renderTones(rng, tones, seconds, []), SAMPLE_RATE);
  const scene: ToneScene = { kind: 'tones', tones, seconds };
  const wrong = count === 1 ? 2 : count === 5 ? 4 : count + (rng.bool() ? 1 : -1);
  return plainSample('beeps', 'How many beeps are there?', String(count), String(wrong), scene, { audio });
}

export function pitch(rng: Rng): Sample {
  const f1 = 150 * 2 ** rng.uniform(0, 3); // 150–1200 Hz
  const semis = rng.uniform(3, 12) * (rng.bool() ? 1 : -1);
  const f2 = f1 * 2 ** (semis / 12);
  const d1 = rng.uniform(0.15, 0.4);
  const d2 = rng.uniform(0.15, 0.4);
  const start = rng.uniform(0.05, 0.3);
  const gap = rng.uniform(0.05, 0.4);
  const tones: Tone[] = [{ start, dur: d1, freq: f1 }, { start: start + d1 + gap, dur: d2, freq: f2 }];
  const seconds = start + d1 + gap + d2 + rng.uniform(0.05, 0.3);
  const harmonics = rng.bool(0.5) ? [] : [rng.uniform(0, 0.5), rng.uniform(0, 0.3), rng.uniform(0, 0.2)];
  const audio = encodeWav16(renderTones(rng, tones, seconds, harmonics), SAMPLE_RATE);
  const answer = f2 > f1 ? 'higher' : 'lower';
  return plainSample('pitch', 'Is the second tone higher or lower than the first?', answer, answer === 'higher' ? 'lower' : 'higher', { kind: 'tones', tones, seconds }, { audio });
}
