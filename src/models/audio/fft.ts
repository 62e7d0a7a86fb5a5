// Discrete Fourier transforms of any length, for the Whisper STFT (n_fft = 400 = 4·4·5·5 is not a power of two).
//
// Math: X[k] = Σ_j x[j]·exp(−2πi·jk/n). Lengths whose prime factors are all small use a recursive mixed-radix
// Cooley–Tukey decimation in time (the structure of KissFFT: split into p interleaved sub-sequences, transform each,
// then combine with twiddles and a p-point DFT). Lengths with a large prime factor use Bluestein's chirp-z
// algorithm, which rewrites the DFT as a convolution computed with a power-of-two FFT.
// Everything is Float64: the spectra feed a log, and float32 twiddles would cost ~1e-6 relative error.

/** Prime factors above this make the generic p² butterfly too slow; such lengths go through Bluestein. */
const maxRadix = 61;

function factorize(n: number): number[] {
  const factors: number[] = [];
  let rest = n;
  // Radix 4 first: its butterfly needs no multiplications.
  while (rest % 4 === 0) { factors.push(4); rest /= 4; }
  for (let p = 2; p * p <= rest; p++) {
    while (rest % p === 0) { factors.push(p); rest /= p; }
  }
  if (rest > 1) factors.push(rest);
  return factors;
}

const c5a = Math.cos((2 * Math.PI) / 5), c5b = Math.cos((4 * Math.PI) / 5);
const s5a = Math.sin((2 * Math.PI) / 5), s5b = Math.sin((4 * Math.PI) / 5);

/** A complex FFT of one fixed length. `forward` writes X = DFT(x); inputs are not modified. */
export class FftPlan {
  readonly n: number;
  private readonly factors: number[];
  private readonly twRe: Float64Array;
  private readonly twIm: Float64Array;
  private readonly bluestein: Bluestein | null;
  private readonly scratchRe: Float64Array;
  private readonly scratchIm: Float64Array;
  private readonly inRe: Float64Array;
  private readonly inIm: Float64Array;

  constructor(n: number) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`FftPlan: length must be a positive integer, got ${n}`);
    this.n = n;
    this.factors = factorize(n);
    this.twRe = new Float64Array(n);
    this.twIm = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const a = (-2 * Math.PI * k) / n;
      this.twRe[k] = Math.cos(a);
      this.twIm[k] = Math.sin(a);
    }
    const largest = Math.max(1, ...this.factors);
    this.bluestein = largest > maxRadix ? new Bluestein(n) : null;
    this.scratchRe = new Float64Array(largest);
    this.scratchIm = new Float64Array(largest);
    this.inRe = new Float64Array(this.bluestein ? 0 : n);
    this.inIm = new Float64Array(this.bluestein ? 0 : n);
  }

  forward(inRe: ArrayLike<number>, inIm: ArrayLike<number>, outRe: Float64Array, outIm: Float64Array): void {
    if (outRe.length < this.n || outIm.length < this.n) throw new Error(`FftPlan(${this.n}): output arrays too short`);
    if (this.bluestein) { this.bluestein.forward(inRe, inIm, outRe, outIm); return; }
    // Copy into our own Float64 buffers so the recursion sees one array type (keeps V8's code monomorphic).
    const { inRe: re, inIm: im, n } = this;
    for (let i = 0; i < n; i++) { re[i] = inRe[i] ?? 0; im[i] = inIm[i] ?? 0; }
    this.work(re, im, outRe, outIm, 0, 0, 1, 0);
  }

  /** Transforms the stage-`stage` sub-sequence starting at `inOff` with stride `fstride` into out[outOff..]. */
  private work(inRe: Float64Array, inIm: Float64Array, outRe: Float64Array, outIm: Float64Array,
    outOff: number, inOff: number, fstride: number, stage: number): void {
    const p = this.factors[stage] ?? 1;
    const m = this.n / (fstride * p); // length of each of the p sub-transforms
    if (m === 1) {
      for (let j = 0; j < p; j++) {
        outRe[outOff + j] = inRe[inOff + j * fstride]!;
        outIm[outOff + j] = inIm[inOff + j * fstride]!;
      }
    } else {
      for (let j = 0; j < p; j++) this.work(inRe, inIm, outRe, outIm, outOff + j * m, inOff + j * fstride, fstride * p, stage + 1);
    }
    if (p === 4) this.butterfly4(outRe, outIm, outOff, fstride, m);
    else if (p === 5) this.butterfly5(outRe, outIm, outOff, fstride, m);
    else if (p === 2) this.butterfly2(outRe, outIm, outOff, fstride, m);
    else this.butterflyGeneric(outRe, outIm, outOff, fstride, m, p);
  }

  private butterfly2(re: Float64Array, im: Float64Array, off: number, fstride: number, m: number): void {
    const { twRe, twIm } = this;
    for (let u = 0; u < m; u++) {
      const a = off + u, b = a + m, t = u * fstride;
      const br = re[b]! * twRe[t]! - im[b]! * twIm[t]!;
      const bi = re[b]! * twIm[t]! + im[b]! * twRe[t]!;
      re[b] = re[a]! - br; im[b] = im[a]! - bi;
      re[a] = re[a]! + br; im[a] = im[a]! + bi;
    }
  }

  private butterfly4(re: Float64Array, im: Float64Array, off: number, fstride: number, m: number): void {
    const { twRe, twIm } = this;
    for (let u = 0; u < m; u++) {
      const i0 = off + u, i1 = i0 + m, i2 = i1 + m, i3 = i2 + m;
      const t1 = u * fstride, t2 = 2 * t1, t3 = 3 * t1;
      const x0r = re[i0]!, x0i = im[i0]!;
      const x1r = re[i1]! * twRe[t1]! - im[i1]! * twIm[t1]!, x1i = re[i1]! * twIm[t1]! + im[i1]! * twRe[t1]!;
      const x2r = re[i2]! * twRe[t2]! - im[i2]! * twIm[t2]!, x2i = re[i2]! * twIm[t2]! + im[i2]! * twRe[t2]!;
      const x3r = re[i3]! * twRe[t3]! - im[i3]! * twIm[t3]!, x3i = re[i3]! * twIm[t3]! + im[i3]! * twRe[t3]!;
      const s02r = x0r + x2r, s02i = x0i + x2i, d02r = x0r - x2r, d02i = x0i - x2i;
      const s13r = x1r + x3r, s13i = x1i + x3i, d13r = x1r - x3r, d13i = x1i - x3i;
      // Forward transform: W4 = −i, so (x1 − x3)·(−i) = (d13i, −d13r).
      re[i0] = s02r + s13r; im[i0] = s02i + s13i;
      re[i1] = d02r + d13i; im[i1] = d02i - d13r;
      re[i2] = s02r - s13r; im[i2] = s02i - s13i;
      re[i3] = d02r - d13i; im[i3] = d02i + d13r;
    }
  }

  private butterfly5(re: Float64Array, im: Float64Array, off: number, fstride: number, m: number): void {
    const { twRe, twIm } = this;
    for (let u = 0; u < m; u++) {
      const i0 = off + u, i1 = i0 + m, i2 = i1 + m, i3 = i2 + m, i4 = i3 + m;
      const t1 = u * fstride, t2 = 2 * t1, t3 = 3 * t1, t4 = 4 * t1;
      const a0r = re[i0]!, a0i = im[i0]!;
      const a1r = re[i1]! * twRe[t1]! - im[i1]! * twIm[t1]!, a1i = re[i1]! * twIm[t1]! + im[i1]! * twRe[t1]!;
      const a2r = re[i2]! * twRe[t2]! - im[i2]! * twIm[t2]!, a2i = re[i2]! * twIm[t2]! + im[i2]! * twRe[t2]!;
      const a3r = re[i3]! * twRe[t3]! - im[i3]! * twIm[t3]!, a3i = re[i3]! * twIm[t3]! + im[i3]! * twRe[t3]!;
      const a4r = re[i4]! * twRe[t4]! - im[i4]! * twIm[t4]!, a4i = re[i4]! * twIm[t4]! + im[i4]! * twRe[t4]!;
      // Pair q with 5−q: W^q + W^(5−q) is real (2cos) and W^q − W^(5−q) imaginary (−2i·sin).
      const b1r = a1r + a4r, b1i = a1i + a4i, d1r = a1r - a4r, d1i = a1i - a4i;
      const b2r = a2r + a3r, b2i = a2i + a3i, d2r = a2r - a3r, d2i = a2i - a3i;
      const s1r = a0r + c5a * b1r + c5b * b2r, s1i = a0i + c5a * b1i + c5b * b2i;
      const s2r = a0r + c5b * b1r + c5a * b2r, s2i = a0i + c5b * b1i + c5a * b2i;
      const u1r = s5a * d1r + s5b * d2r, u1i = s5a * d1i + s5b * d2i;
      const u2r = s5b * d1r - s5a * d2r, u2i = s5b * d1i - s5a * d2i;
      re[i0] = a0r + b1r + b2r; im[i0] = a0i + b1i + b2i;
      re[i1] = s1r + u1i; im[i1] = s1i - u1r; // X1 = s1 − i·u1
      re[i4] = s1r - u1i; im[i4] = s1i + u1r; // X4 = s1 + i·u1
      re[i2] = s2r + u2i; im[i2] = s2i - u2r;
      re[i3] = s2r - u2i; im[i3] = s2i + u2r;
    }
  }

  private butterflyGeneric(re: Float64Array, im: Float64Array, off: number, fstride: number, m: number, p: number): void {
    const { twRe, twIm, scratchRe: sr, scratchIm: si, n } = this;
    const rootStep = n / p; // W_p^q = tw[q·n/p]
    for (let u = 0; u < m; u++) {
      for (let q = 0; q < p; q++) {
        const idx = off + u + q * m, t = q * u * fstride; // < p·m·fstride = n
        sr[q] = re[idx]! * twRe[t]! - im[idx]! * twIm[t]!;
        si[q] = re[idx]! * twIm[t]! + im[idx]! * twRe[t]!;
      }
      for (let k = 0; k < p; k++) {
        let accR = sr[0]!, accI = si[0]!;
        let w = 0;
        for (let q = 1; q < p; q++) {
          w += k; if (w >= p) w -= p; // w = q·k mod p
          const c = twRe[w * rootStep]!, s = twIm[w * rootStep]!;
          accR += sr[q]! * c - si[q]! * s;
          accI += sr[q]! * s + si[q]! * c;
        }
        re[off + u + k * m] = accR;
        im[off + u + k * m] = accI;
      }
    }
  }
}

/** Bluestein's chirp-z: X[k] = c[k]·Σ_j (x[j]·c[j])·conj(c[k−j]) with c[k] = exp(−iπk²/n), a convolution of length ≥ 2n−1. */
class Bluestein {
  private readonly n: number;
  private readonly inner: FftPlan;
  private readonly chirpRe: Float64Array;
  private readonly chirpIm: Float64Array;
  private readonly kernelRe: Float64Array; // FFT of conj(chirp), wrapped around for the circular convolution
  private readonly kernelIm: Float64Array;
  private readonly aRe: Float64Array;
  private readonly aIm: Float64Array;
  private readonly fRe: Float64Array;
  private readonly fIm: Float64Array;

  constructor(n: number) {
    this.n = n;
    let m = 1;
    while (m < 2 * n - 1) m *= 2;
    this.inner = new FftPlan(m);
    this.chirpRe = new Float64Array(n);
    this.chirpIm = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      // k² mod 2n keeps the angle small, so large k lose no precision.
      const a = (-Math.PI * ((k * k) % (2 * n))) / n;
      this.chirpRe[k] = Math.cos(a);
      this.chirpIm[k] = Math.sin(a);
    }
    const bRe = new Float64Array(m), bIm = new Float64Array(m);
    for (let k = 0; k < n; k++) {
      bRe[k] = this.chirpRe[k]!; bIm[k] = -this.chirpIm[k]!;
      if (k > 0) { bRe[m - k] = bRe[k]!; bIm[m - k] = bIm[k]!; }
    }
    this.kernelRe = new Float64Array(m);
    this.kernelIm = new Float64Array(m);
    this.inner.forward(bRe, bIm, this.kernelRe, this.kernelIm);
    this.aRe = new Float64Array(m); this.aIm = new Float64Array(m);
    this.fRe = new Float64Array(m); this.fIm = new Float64Array(m);
  }

  forward(inRe: ArrayLike<number>, inIm: ArrayLike<number>, outRe: Float64Array, outIm: Float64Array): void {
    const { n, aRe, aIm, fRe, fIm, chirpRe, chirpIm, kernelRe, kernelIm } = this;
    const m = aRe.length;
    aRe.fill(0); aIm.fill(0);
    for (let k = 0; k < n; k++) {
      const xr = inRe[k] ?? 0, xi = inIm[k] ?? 0;
      aRe[k] = xr * chirpRe[k]! - xi * chirpIm[k]!;
      aIm[k] = xr * chirpIm[k]! + xi * chirpRe[k]!;
    }
    this.inner.forward(aRe, aIm, fRe, fIm);
    // Pointwise product, conjugated so that a second forward FFT computes the inverse: ifft(z) = conj(fft(conj z))/m.
    for (let k = 0; k < m; k++) {
      const r = fRe[k]! * kernelRe[k]! - fIm[k]! * kernelIm[k]!;
      const i = fRe[k]! * kernelIm[k]! + fIm[k]! * kernelRe[k]!;
      aRe[k] = r; aIm[k] = -i;
    }
    this.inner.forward(aRe, aIm, fRe, fIm);
    for (let k = 0; k < n; k++) {
      const cr = fRe[k]! / m, ci = -fIm[k]! / m;
      outRe[k] = cr * chirpRe[k]! - ci * chirpIm[k]!;
      outIm[k] = cr * chirpIm[k]! + ci * chirpRe[k]!;
    }
  }
}

/**
 * Real-input FFT of length n, returning the n/2+1 non-negative frequency bins.
 * `forwardPair` transforms two real signals with one complex FFT (z = x + iy), which halves the STFT's cost.
 */
export class RealFft {
  readonly n: number;
  readonly bins: number;
  private readonly plan: FftPlan;
  private readonly zero: Float64Array;
  private readonly zRe: Float64Array;
  private readonly zIm: Float64Array;

  constructor(n: number) {
    this.plan = new FftPlan(n);
    this.n = n;
    this.bins = Math.floor(n / 2) + 1;
    this.zero = new Float64Array(n);
    this.zRe = new Float64Array(n);
    this.zIm = new Float64Array(n);
  }

  forward(x: ArrayLike<number>, outRe: Float64Array, outIm: Float64Array): void {
    this.plan.forward(x, this.zero, this.zRe, this.zIm);
    for (let k = 0; k < this.bins; k++) { outRe[k] = this.zRe[k]!; outIm[k] = this.zIm[k]!; }
  }

  /** Spectra of two real signals at once: X[k] = (Z[k] + conj Z[n−k])/2, Y[k] = (Z[k] − conj Z[n−k])/(2i). */
  forwardPair(x: ArrayLike<number>, y: ArrayLike<number>,
    xRe: Float64Array, xIm: Float64Array, yRe: Float64Array, yIm: Float64Array): void {
    const { n, zRe, zIm } = this;
    this.plan.forward(x, y, zRe, zIm);
    for (let k = 0; k < this.bins; k++) {
      const j = k === 0 ? 0 : n - k;
      const ar = zRe[k]!, ai = zIm[k]!, br = zRe[j]!, bi = -zIm[j]!; // b = conj Z[n−k]
      xRe[k] = 0.5 * (ar + br); xIm[k] = 0.5 * (ai + bi);
      yRe[k] = 0.5 * (ai - bi); yIm[k] = -0.5 * (ar - br);
    }
  }
}
