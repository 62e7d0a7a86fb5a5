// Resampler checks: output lengths, pass-band tones keep amplitude and frequency (least-squares fit of a sinusoid at
// the expected frequency leaves almost no residual), and tones above the target Nyquist are suppressed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resample } from './resample.ts';

function tone(freq: number, rate: number, seconds: number, amp = 0.5): Float32Array {
  return Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / rate + 0.3));
}

/** Fits a·sin + b·cos at `freq` over the middle of y (edges see zero padding); returns amplitude and residual RMS. */
function fitTone(y: Float32Array, freq: number, rate: number): { amp: number; residualRms: number; rms: number } {
  const lo = Math.floor(y.length * 0.2), hi = Math.floor(y.length * 0.8);
  let ss = 0, cc = 0, sc = 0, ys = 0, yc = 0;
  for (let i = lo; i < hi; i++) {
    const s = Math.sin((2 * Math.PI * freq * i) / rate), c = Math.cos((2 * Math.PI * freq * i) / rate);
    ss += s * s; cc += c * c; sc += s * c; ys += y[i]! * s; yc += y[i]! * c;
  }
  const det = ss * cc - sc * sc;
  const a = (ys * cc - yc * sc) / det, b = (yc * ss - ys * sc) / det;
  let res = 0, tot = 0;
  for (let i = lo; i < hi; i++) {
    const fit = a * Math.sin((2 * Math.PI * freq * i) / rate) + b * Math.cos((2 * Math.PI * freq * i) / rate);
    res += (y[i]! - fit) ** 2; tot += y[i]! ** 2;
  }
  return { amp: Math.hypot(a, b), residualRms: Math.sqrt(res / (hi - lo)), rms: Math.sqrt(tot / (hi - lo)) };
}

test('output lengths are ceil(N·to/from)', () => {
  assert.equal(resample(new Float32Array(44100), 44100, 16000).length, 16000);
  assert.equal(resample(new Float32Array(12345), 44100, 16000).length, Math.ceil((12345 * 16000) / 44100));
  assert.equal(resample(new Float32Array(8000), 8000, 16000).length, 16000);
  assert.equal(resample(new Float32Array(7), 8000, 16000).length, 14);
  assert.equal(resample(new Float32Array(1000), 16000, 16001).length, Math.ceil((1000 * 16001) / 16000));
  assert.equal(resample(new Float32Array(0), 44100, 16000).length, 0);
});

test('44.1 kHz → 16 kHz keeps pass-band tones and suppresses tones above 8 kHz', () => {
  for (const f of [440, 1000, 6000, 7000]) {
    const fit = fitTone(resample(tone(f, 44100, 0.5), 44100, 16000), f, 16000);
    assert.ok(Math.abs(fit.amp - 0.5) < 0.005, `${f} Hz: amplitude ${fit.amp}`);
    assert.ok(fit.residualRms < 1e-3, `${f} Hz: residual ${fit.residualRms} (wrong frequency or distortion)`);
  }
  for (const f of [8500, 9000, 12000, 20000]) {
    const { rms } = fitTone(resample(tone(f, 44100, 0.5), 44100, 16000), 1000, 16000);
    assert.ok(rms < 0.5 / Math.SQRT2 * 1e-3, `${f} Hz leaks through at rms ${rms} (aliasing)`);
  }
});

test('8 kHz → 16 kHz interpolates a tone without images', () => {
  for (const f of [300, 1000, 3500]) {
    const fit = fitTone(resample(tone(f, 8000, 0.5), 8000, 16000), f, 16000);
    assert.ok(Math.abs(fit.amp - 0.5) < 0.005, `${f} Hz: amplitude ${fit.amp}`);
    // The image of f would sit at 8000 − f; any of it shows up in the residual.
    assert.ok(fit.residualRms < 1e-3, `${f} Hz: residual ${fit.residualRms}`);
  }
});

test('incommensurate rates (interpolated kernel path) still keep a tone', () => {
  const fit = fitTone(resample(tone(1000, 16000, 0.25), 16000, 16001), 1000, 16001);
  assert.ok(Math.abs(fit.amp - 0.5) < 0.005, `amplitude ${fit.amp}`);
  assert.ok(fit.residualRms < 1e-3, `residual ${fit.residualRms}`);
});

test('equal rates copy; bad rates are named', () => {
  const x = Float32Array.of(1, 2, 3);
  const y = resample(x, 16000, 16000);
  assert.deepEqual(y, x);
  assert.notEqual(y, x);
  assert.throws(() => resample(x, 0, 16000), /fromRate must be a positive integer, got 0/);
  assert.throws(() => resample(x, 16000, 22050.5), /toRate must be a positive integer/);
  assert.throws(() => resample(x, 16000, 8000, { rolloff: 1.5 }), /rolloff/);
});
