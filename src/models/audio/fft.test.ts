// FFT plans checked against a naive O(n²) DFT for mixed-radix, power-of-two and Bluestein (large prime) lengths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FftPlan, RealFft } from './fft.ts';

function naiveDft(re: Float64Array, im: Float64Array): { re: Float64Array; im: Float64Array } {
  const n = re.length;
  const outRe = new Float64Array(n), outIm = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let sr = 0, si = 0;
    for (let j = 0; j < n; j++) {
      const a = (-2 * Math.PI * ((j * k) % n)) / n;
      sr += re[j]! * Math.cos(a) - im[j]! * Math.sin(a);
      si += re[j]! * Math.sin(a) + im[j]! * Math.cos(a);
    }
    outRe[k] = sr; outIm[k] = si;
  }
  return { re: outRe, im: outIm };
}

function randomSignal(n: number, seed: number): Float64Array {
  let s = seed >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>, len: number): number {
  let d = 0;
  for (let i = 0; i < len; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

test('complex FFT equals the naive DFT for mixed-radix, prime and power-of-two lengths', () => {
  for (const n of [1, 2, 3, 4, 5, 7, 8, 12, 16, 25, 30, 45, 97, 127, 360, 400, 512, 625, 1009]) {
    const re = randomSignal(n, n), im = randomSignal(n, n + 1000);
    const want = naiveDft(re, im);
    const gotRe = new Float64Array(n), gotIm = new Float64Array(n);
    new FftPlan(n).forward(re, im, gotRe, gotIm);
    const err = Math.max(maxDiff(gotRe, want.re, n), maxDiff(gotIm, want.im, n));
    assert.ok(err < 1e-9 * Math.max(1, n), `n=${n}: max diff ${err}`);
  }
});

test('real FFT of length 400 gives the 201 non-negative bins of the DFT', () => {
  const n = 400;
  const x = randomSignal(n, 7);
  const want = naiveDft(x, new Float64Array(n));
  const fft = new RealFft(n);
  assert.equal(fft.bins, 201);
  const re = new Float64Array(fft.bins), im = new Float64Array(fft.bins);
  fft.forward(x, re, im);
  assert.ok(maxDiff(re, want.re, fft.bins) < 1e-10);
  assert.ok(maxDiff(im, want.im, fft.bins) < 1e-10);
});

test('forwardPair splits two real spectra out of one complex FFT', () => {
  for (const n of [400, 401]) {
    const x = randomSignal(n, 11), y = randomSignal(n, 12);
    const wx = naiveDft(x, new Float64Array(n)), wy = naiveDft(y, new Float64Array(n));
    const fft = new RealFft(n);
    const b = fft.bins;
    const xr = new Float64Array(b), xi = new Float64Array(b), yr = new Float64Array(b), yi = new Float64Array(b);
    fft.forwardPair(x, y, xr, xi, yr, yi);
    const err = Math.max(maxDiff(xr, wx.re, b), maxDiff(xi, wx.im, b), maxDiff(yr, wy.re, b), maxDiff(yi, wy.im, b));
    assert.ok(err < 1e-10, `n=${n}: max diff ${err}`);
  }
});

test('bad lengths are rejected with a clear error', () => {
  assert.throws(() => new FftPlan(0), /positive integer/);
  assert.throws(() => new FftPlan(2.5), /positive integer/);
});
