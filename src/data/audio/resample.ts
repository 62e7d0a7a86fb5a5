// Band-limited sample-rate conversion by Kaiser-windowed sinc interpolation (Smith, "Digital Audio Resampling"; the
// design of resampy's filters: 64 zero crossings like librosa's 'kaiser_best', but β = 9 instead of 14.8, trading
// stopband depth (~90 dB) for a narrower transition band).
//
// Output sample n sits at input time t = n·from/to and is y[n] = Σ_j x[j]·h(t − j), with
// h(τ) = c·sinc(c·τ)·kaiser(τ / halfWidth), c = rolloff·min(1, to/from). The cutoff c sits just below the lower of
// the two Nyquist rates, so downsampling removes what would alias and upsampling removes the spectral images.
// With a rational ratio to/from = L/M only L fractional offsets occur, so the taps are tabulated per phase
// (polyphase); when L is large the kernel is read from a densely sampled table with linear interpolation.
// Samples outside the signal count as zeros. Output length is ceil(N·to/from), as librosa and soxr give.

export interface ResampleOptions {
  /** Sinc zero crossings on each side of the centre, at the lower rate (default 64). More: sharper transition. */
  readonly zeroCrossings?: number;
  /** Cutoff as a fraction of the lower Nyquist rate (default 0.945). */
  readonly rolloff?: number;
  /** Kaiser window shape; ~9 gives ≈90 dB stopband (default 9). */
  readonly beta?: number;
}

const maxPhases = 4096;
const denseSteps = 1024; // kernel samples per input sample in the interpolated table

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Modified Bessel function of the first kind, order 0, by its power series (converges fast for β ≤ 30). */
function besselI0(x: number): number {
  let sum = 1, term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 200; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** The continuous kernel h(τ), τ in input samples. */
function makeKernel(cutoff: number, halfWidth: number, beta: number): (tau: number) => number {
  const norm = besselI0(beta);
  return (tau) => {
    const r = tau / halfWidth;
    if (r <= -1 || r >= 1) return 0;
    const x = Math.PI * cutoff * tau;
    const sinc = x === 0 ? 1 : Math.sin(x) / x;
    return cutoff * sinc * (besselI0(beta * Math.sqrt(1 - r * r)) / norm);
  };
}

/** Converts mono audio from `fromRate` to `toRate` Hz. Returns a new Float32Array (a copy when the rates match). */
export function resample(input: Float32Array | Float64Array, fromRate: number, toRate: number, options: ResampleOptions = {}): Float32Array {
  for (const [name, v] of [['fromRate', fromRate], ['toRate', toRate]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`resample: ${name} must be a positive integer, got ${v}`);
  }
  const zeroCrossings = options.zeroCrossings ?? 64;
  const rolloff = options.rolloff ?? 0.945;
  const beta = options.beta ?? 9;
  if (!(zeroCrossings >= 1)) throw new Error(`resample: zeroCrossings must be >= 1, got ${zeroCrossings}`);
  if (!(rolloff > 0 && rolloff <= 1)) throw new Error(`resample: rolloff must be in (0, 1], got ${rolloff}`);
  if (fromRate === toRate) return Float32Array.from(input);
  // One array type in the hot loops keeps V8's code monomorphic.
  const x = input instanceof Float64Array ? input : Float64Array.from(input);

  const g = gcd(fromRate, toRate);
  const up = toRate / g, down = fromRate / g; // t = n·down/up
  const nIn = x.length;
  const nOut = Math.ceil((nIn * up) / down);
  const cutoff = rolloff * Math.min(1, toRate / fromRate);
  const halfWidth = zeroCrossings / Math.min(1, toRate / fromRate);
  const kernel = makeKernel(cutoff, halfWidth, beta);
  const reach = Math.ceil(halfWidth); // taps j with |t − j| < halfWidth lie in [i0 − reach + 1, i0 + reach]
  const taps = 2 * reach;
  const y = new Float32Array(nOut);

  if (up <= maxPhases) {
    // table[p·taps + k] = h(p/up − (k − reach + 1)), tap k multiplies x[i0 − reach + 1 + k]
    const table = new Float64Array(up * taps);
    for (let p = 0; p < up; p++) {
      for (let k = 0; k < taps; k++) table[p * taps + k] = kernel(p / up - (k - reach + 1));
    }
    for (let n = 0; n < nOut; n++) {
      const num = n * down;
      const i0 = Math.floor(num / up), p = num - i0 * up;
      y[n] = dot(x, i0 - reach + 1, table, p * taps, taps);
    }
    return y;
  }
  // Incommensurate rates: interpolate a dense table of h on [0, halfWidth] (h is even).
  const dense = new Float64Array(Math.ceil(halfWidth * denseSteps) + 2);
  for (let i = 0; i < dense.length; i++) dense[i] = kernel(i / denseSteps);
  const ratio = fromRate / toRate;
  for (let n = 0; n < nOut; n++) {
    const t = n * ratio;
    const lo = Math.max(0, Math.floor(t) - reach + 1), hi = Math.min(nIn - 1, Math.floor(t) + reach);
    let acc = 0;
    for (let j = lo; j <= hi; j++) {
      const pos = Math.abs(t - j) * denseSteps;
      const i = Math.floor(pos);
      if (i + 1 >= dense.length) continue;
      const w = dense[i]! + (pos - i) * (dense[i + 1]! - dense[i]!);
      acc += w * x[j]!;
    }
    y[n] = acc;
  }
  return y;
}

/** Σ_k x[start + k]·w[off + k] over the taps, treating x outside [0, N) as zero. */
function dot(x: Float64Array, start: number, w: Float64Array, off: number, taps: number): number {
  const k0 = Math.max(0, -start), k1 = Math.min(taps, x.length - start);
  let acc = 0;
  for (let k = k0; k < k1; k++) acc += x[start + k]! * w[off + k]!;
  return acc;
}
