// Whisper's log-mel front end: slaney mel filter bank, STFT power spectrum, log10 and dynamic-range clamp.
//
// Math follows transformers' `audio_utils.mel_filter_bank` (librosa's slaney scale and area normalisation) and
// `WhisperFeatureExtractor._torch_extract_fbank_features`: pad/truncate to chunk_length·sampling_rate, periodic hann
// window, `torch.stft(center=True, pad_mode='reflect')`, |X|², drop the last frame, mel, log10(max(x, 1e-10)),
// max(x, x.max() − 8) per example, (x + 4)/4. Computed in Float64 (torch uses float32; the two agree to ~1e-5).
// Shapes: B batch, M mel bins, F frames, K = n_fft/2 + 1 frequency bins, S samples.
import { RealFft } from './fft.ts';

export type MelScale = 'slaney' | 'htk';

export interface MelFilterOptions {
  /** Lowest filter edge in Hz (default 0). */
  readonly fmin?: number;
  /** Highest filter edge in Hz (default sampleRate/2). */
  readonly fmax?: number;
  /** 'slaney' divides each triangle by its width in Hz (constant energy per channel); null keeps peaks at 1. */
  readonly norm?: 'slaney' | null;
  readonly scale?: MelScale;
}

// Slaney's scale is linear below 1 kHz (3 mels per 200 Hz) and logarithmic above.
const minLogHertz = 1000;
const minLogMel = 15;
const logStep = 27 / Math.log(6.4);

export function hertzToMel(hz: number, scale: MelScale = 'slaney'): number {
  if (scale === 'htk') return 2595 * Math.log10(1 + hz / 700);
  return hz >= minLogHertz ? minLogMel + Math.log(hz / minLogHertz) * logStep : (3 * hz) / 200;
}

export function melToHertz(mel: number, scale: MelScale = 'slaney'): number {
  if (scale === 'htk') return 700 * (10 ** (mel / 2595) - 1);
  return mel >= minLogMel ? minLogHertz * Math.exp((mel - minLogMel) / logStep) : (200 * mel) / 3;
}

/** numpy.linspace(start, stop, num) to the last bit: start + i·step, with the endpoint set exactly. */
function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  const step = num > 1 ? (stop - start) / (num - 1) : 0;
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  if (num > 1) out[num - 1] = stop;
  return out;
}

/**
 * Triangular mel filters as a [K, M] row-major matrix (K = nFft/2 + 1), equal to transformers'
 * `mel_filter_bank(K, nMels, fmin, fmax, sampleRate, norm, mel_scale)`.
 */
export function melFilterBank(nMels: number, nFft: number, sampleRate: number, options: MelFilterOptions = {}): Float64Array {
  const fmin = options.fmin ?? 0;
  const fmax = options.fmax ?? sampleRate / 2;
  const norm = options.norm === undefined ? 'slaney' : options.norm;
  const scale = options.scale ?? 'slaney';
  for (const [name, v] of [['nMels', nMels], ['nFft', nFft], ['sampleRate', sampleRate]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`melFilterBank: ${name} must be a positive integer, got ${v}`);
  }
  if (nFft < 2) throw new Error(`melFilterBank: nFft must be at least 2, got ${nFft}`);
  if (!(fmin >= 0 && fmin <= fmax)) throw new Error(`melFilterBank: need 0 <= fmin <= fmax, got fmin=${fmin}, fmax=${fmax}`);
  const nBins = Math.floor(nFft / 2) + 1;
  const mels = linspace(hertzToMel(fmin, scale), hertzToMel(fmax, scale), nMels + 2);
  const edges = mels.map((m) => melToHertz(m, scale)); // M + 2 filter edges in Hz
  // transformers uses sampling_rate // 2 (integer division) for the top bin.
  const binHz = linspace(0, Math.floor(sampleRate / 2), nBins);
  const filters = new Float64Array(nBins * nMels); // [K, M]
  for (let m = 0; m < nMels; m++) {
    const lo = edges[m]!, center = edges[m + 1]!, hi = edges[m + 2]!;
    const enorm = norm === 'slaney' ? 2 / (hi - lo) : 1;
    for (let k = 0; k < nBins; k++) {
      const f = binHz[k]!;
      const down = -(lo - f) / (center - lo);
      const up = (hi - f) / (hi - center);
      const w = Math.max(0, Math.min(down, up));
      filters[k * nMels + m] = w * enorm;
    }
  }
  return filters;
}

/** The fields of a Hugging Face `preprocessor_config.json` that the Whisper extractor reads (camelCased). */
export interface WhisperFeatureConfig {
  readonly featureSize: number;
  readonly samplingRate: number;
  readonly hopLength: number;
  readonly chunkLength: number;
  readonly nFft: number;
  readonly paddingValue: number;
  readonly dither: number;
}

const whisperDefaults: WhisperFeatureConfig = {
  featureSize: 80, samplingRate: 16000, hopLength: 160, chunkLength: 30, nFft: 400, paddingValue: 0, dither: 0,
};

/** Reads a preprocessor config object (snake_case keys, HF defaults for missing ones), naming any bad field. */
export function whisperFeatureConfig(json: unknown, source = 'preprocessor config'): WhisperFeatureConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${source}: expected a JSON object`);
  const obj = json as Record<string, unknown>;
  const read = (key: string, fallback: number, kind: 'positive int' | 'number'): number => {
    const v = obj[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${source}: "${key}" must be a finite number, got ${JSON.stringify(v)}`);
    if (kind === 'positive int' && !(Number.isInteger(v) && v > 0)) throw new Error(`${source}: "${key}" must be a positive integer, got ${v}`);
    return v;
  };
  const d = whisperDefaults;
  const config: WhisperFeatureConfig = {
    featureSize: read('feature_size', d.featureSize, 'positive int'),
    samplingRate: read('sampling_rate', d.samplingRate, 'positive int'),
    hopLength: read('hop_length', d.hopLength, 'positive int'),
    chunkLength: read('chunk_length', d.chunkLength, 'positive int'),
    nFft: read('n_fft', d.nFft, 'positive int'),
    paddingValue: read('padding_value', d.paddingValue, 'number'),
    dither: read('dither', d.dither, 'number'),
  };
  if (config.nFft < 2) throw new Error(`${source}: "n_fft" must be at least 2, got ${config.nFft}`);
  if (config.dither < 0) throw new Error(`${source}: "dither" must be >= 0, got ${config.dither}`);
  return config;
}

export interface WhisperFeatures {
  /** [B, M, F] log-mel features. */
  readonly inputFeatures: Float32Array;
  /** [B, F] 1 where the frame starts inside the real (unpadded) audio, as HF's `attention_mask`. */
  readonly attentionMask: Uint8Array;
  readonly batch: number;
  readonly nMels: number;
  readonly nFrames: number;
}

/** Standard normal samples from a seeded generator (mulberry32 + Box–Muller), for dithering. */
function gaussianSource(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 2 ** 32;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

export class WhisperFeatureExtractor {
  readonly config: WhisperFeatureConfig;
  /** [K, M] slaney filters, fmin 0, fmax 8000 Hz as transformers hard-codes it. */
  readonly melFilters: Float64Array;
  /** Samples every waveform is padded or truncated to (chunk_length · sampling_rate). */
  readonly nSamples: number;
  readonly nFrames: number;
  private readonly window: Float64Array;
  private readonly fft: RealFft;
  // Non-zero band of each mel filter, so the mel projection skips the zeros (~2 bins per filter on average).
  private readonly bandStart: Int32Array;
  private readonly bandEnd: Int32Array;

  constructor(config: WhisperFeatureConfig) {
    this.config = config;
    const { featureSize, samplingRate, hopLength, chunkLength, nFft } = config;
    this.melFilters = melFilterBank(featureSize, nFft, samplingRate, { fmin: 0, fmax: 8000, norm: 'slaney', scale: 'slaney' });
    this.nSamples = chunkLength * samplingRate;
    if (this.nSamples <= nFft >> 1) throw new Error(`WhisperFeatureExtractor: chunk of ${this.nSamples} samples is too short for reflect padding by n_fft/2=${nFft >> 1}`);
    this.nFrames = Math.floor((this.nSamples + 2 * (nFft >> 1) - nFft) / hopLength); // STFT frames minus the dropped last one
    // torch.hann_window(n, periodic=True)
    this.window = new Float64Array(nFft);
    for (let i = 0; i < nFft; i++) this.window[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / nFft);
    this.fft = new RealFft(nFft);
    const nBins = this.fft.bins;
    this.bandStart = new Int32Array(featureSize);
    this.bandEnd = new Int32Array(featureSize);
    for (let m = 0; m < featureSize; m++) {
      let lo = nBins, hi = 0;
      for (let k = 0; k < nBins; k++) if (this.melFilters[k * featureSize + m] !== 0) { lo = Math.min(lo, k); hi = k + 1; }
      this.bandStart[m] = lo; this.bandEnd[m] = Math.max(lo, hi);
    }
  }

  static fromPreprocessorConfig(json: unknown, source?: string): WhisperFeatureExtractor {
    return new WhisperFeatureExtractor(whisperFeatureConfig(json, source));
  }

  /** Features for one or more mono waveforms at `config.samplingRate`; `sampleRate`, when given, must match. */
  extract(waveforms: Float32Array | Float64Array | ReadonlyArray<Float32Array | Float64Array>,
    options: { sampleRate?: number; ditherSeed?: number } = {}): WhisperFeatures {
    const list = Array.isArray(waveforms) ? waveforms : [waveforms as Float32Array | Float64Array];
    const { featureSize: nMels, samplingRate, hopLength } = this.config;
    if (options.sampleRate !== undefined && options.sampleRate !== samplingRate) {
      throw new Error(`WhisperFeatureExtractor: audio is ${options.sampleRate} Hz but the extractor expects ${samplingRate} Hz; resample first`);
    }
    if (list.length === 0) throw new Error('WhisperFeatureExtractor: no waveforms given');
    const nFrames = this.nFrames;
    const inputFeatures = new Float32Array(list.length * nMels * nFrames);
    const attentionMask = new Uint8Array(list.length * nFrames);
    const noise = this.config.dither !== 0 ? gaussianSource(options.ditherSeed ?? 0) : null;
    list.forEach((wave, b) => {
      for (let i = 0; i < wave.length; i++) {
        if (!Number.isFinite(wave[i]!)) throw new Error(`WhisperFeatureExtractor: waveform ${b} has a non-finite sample at index ${i}`);
      }
      const logMel = this.logMel(this.padOrTruncate(wave, noise));
      inputFeatures.set(logMel, b * nMels * nFrames);
      const valid = Math.min(wave.length, this.nSamples);
      for (let f = 0; f < nFrames; f++) attentionMask[b * nFrames + f] = f * hopLength < valid ? 1 : 0;
    });
    return { inputFeatures, attentionMask, batch: list.length, nMels, nFrames };
  }

  private padOrTruncate(wave: Float32Array | Float64Array, noise: (() => number) | null): Float64Array {
    const out = new Float64Array(this.nSamples).fill(this.config.paddingValue);
    // Round through float32 as HF does (it casts the waveform to np.float32 before the STFT).
    const n = Math.min(wave.length, this.nSamples);
    for (let i = 0; i < n; i++) out[i] = Math.fround(wave[i]!);
    if (noise) for (let i = 0; i < out.length; i++) out[i] = out[i]! + this.config.dither * noise();
    return out;
  }

  /** [M, F] normalised log-mel of one padded waveform [S]. */
  private logMel(wave: Float64Array): Float32Array {
    const { featureSize: nMels, nFft, hopLength } = this.config;
    const { nFrames, window, fft, melFilters, bandStart, bandEnd } = this;
    const half = nFft >> 1;
    const nBins = fft.bins;
    // The centred signal: wave reflected by n_fft/2 samples at both ends (torch's pad_mode='reflect'), [S + 2·half].
    const last = wave.length - 1;
    const centred = new Float64Array(wave.length + 2 * half);
    for (let j = 0; j < centred.length; j++) {
      let i = j - half;
      if (i < 0) i = -i;
      if (i > last) i = 2 * last - i;
      centred[j] = wave[i]!;
    }
    const frameA = new Float64Array(nFft), frameB = new Float64Array(nFft);
    const aRe = new Float64Array(nBins), aIm = new Float64Array(nBins), bRe = new Float64Array(nBins), bIm = new Float64Array(nBins);
    const power = new Float64Array(nBins);
    const logSpec = new Float64Array(nMels * nFrames); // [M, F]
    let maxLog = -Infinity;
    const fillFrame = (frame: Float64Array, f: number): void => {
      const start = f * hopLength;
      for (let i = 0; i < nFft; i++) frame[i] = centred[start + i]! * window[i]!;
    };
    const project = (re: Float64Array, im: Float64Array, f: number): void => {
      for (let k = 0; k < nBins; k++) power[k] = re[k]! * re[k]! + im[k]! * im[k]!;
      for (let m = 0; m < nMels; m++) {
        let acc = 0;
        for (let k = bandStart[m]!; k < bandEnd[m]!; k++) acc += melFilters[k * nMels + m]! * power[k]!;
        const v = Math.log10(Math.max(acc, 1e-10));
        logSpec[m * nFrames + f] = v;
        if (v > maxLog) maxLog = v;
      }
    };
    for (let f = 0; f < nFrames; f += 2) {
      fillFrame(frameA, f);
      if (f + 1 < nFrames) {
        fillFrame(frameB, f + 1);
        fft.forwardPair(frameA, frameB, aRe, aIm, bRe, bIm);
        project(aRe, aIm, f);
        project(bRe, bIm, f + 1);
      } else {
        fft.forward(frameA, aRe, aIm);
        project(aRe, aIm, f);
      }
    }
    const floor = maxLog - 8;
    const out = new Float32Array(nMels * nFrames);
    for (let i = 0; i < out.length; i++) out[i] = (Math.max(logSpec[i]!, floor) + 4) / 4;
    return out;
  }
}
