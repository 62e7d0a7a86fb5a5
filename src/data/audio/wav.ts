// RIFF/WAVE reading and writing: PCM 8/16/24/32-bit, IEEE float 32/64 and WAVE_FORMAT_EXTENSIBLE in; 16-bit PCM out.
//
// Layout (Microsoft RIFF spec): "RIFF" size "WAVE", then chunks of id(4) size(u32 LE) body, each padded to an even
// length. `fmt ` carries format tag, channels, rate, block align and bits; EXTENSIBLE adds a sub-format GUID whose
// first two bytes are the real format tag. Every other chunk (LIST, fact, cue, …) is skipped.
// Integer PCM maps to [-1, 1) by dividing by 2^(bits−1); 8-bit PCM is unsigned with a 128 offset.

export interface DecodedWav {
  readonly sampleRate: number;
  readonly channels: number;
  /** Mono mix-down (mean of the channels), [S]. */
  readonly samples: Float32Array;
  /** One array per channel, [C][S]; for mono, channelData[0] is `samples`. */
  readonly channelData: Float32Array[];
  readonly bitsPerSample: number;
  readonly format: 'pcm' | 'float';
}

export interface DecodeWavOptions {
  /** Refuse audio longer than this (default 4 hours), so a corrupt header cannot ask for gigabytes. */
  readonly maxSeconds?: number;
  /** Named in error messages. */
  readonly source?: string;
}

/** A well-formed WAV whose codec (μ-law, ADPCM, MP3, …) is not decoded here; loadAudio hands those to ffmpeg. */
export class WavCodecError extends Error {
  readonly formatCode: number;
  constructor(message: string, formatCode: number) {
    super(message);
    this.name = 'WavCodecError';
    this.formatCode = formatCode;
  }
}

const formatPcm = 0x0001;
const formatFloat = 0x0003;
const formatExtensible = 0xfffe;

const knownFormats: Readonly<Record<number, string>> = {
  0x0002: 'Microsoft ADPCM', 0x0006: 'A-law', 0x0007: 'mu-law', 0x0011: 'IMA ADPCM', 0x0031: 'GSM 6.10',
  0x0050: 'MPEG', 0x0055: 'MPEG Layer 3', 0x00ff: 'AAC', 0x1610: 'HE-AAC', 0xf1ac: 'FLAC',
};

function fourcc(b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!);
}

interface FmtChunk { formatTag: number; channels: number; sampleRate: number; blockAlign: number; bits: number }

function parseFmt(view: DataView, at: number, size: number, where: string): FmtChunk {
  if (size < 16) throw new Error(`${where}: fmt chunk is ${size} bytes, need at least 16`);
  let formatTag = view.getUint16(at, true);
  const channels = view.getUint16(at + 2, true);
  const sampleRate = view.getUint32(at + 4, true);
  const blockAlign = view.getUint16(at + 12, true);
  const bits = view.getUint16(at + 14, true);
  if (formatTag === formatExtensible) {
    if (size < 40) throw new Error(`${where}: WAVE_FORMAT_EXTENSIBLE fmt chunk is ${size} bytes, need 40`);
    formatTag = view.getUint16(at + 24, true); // first two bytes of the sub-format GUID
  }
  return { formatTag, channels, sampleRate, blockAlign, bits };
}

function checkFmt(fmt: FmtChunk, where: string): 'pcm' | 'float' {
  const { formatTag, channels, sampleRate, blockAlign, bits } = fmt;
  let kind: 'pcm' | 'float';
  if (formatTag === formatPcm) {
    if (![8, 16, 24, 32].includes(bits)) throw new Error(`${where}: unsupported PCM bit depth ${bits} (supported: 8, 16, 24, 32)`);
    kind = 'pcm';
  } else if (formatTag === formatFloat) {
    if (bits !== 32 && bits !== 64) throw new Error(`${where}: unsupported IEEE float bit depth ${bits} (supported: 32, 64)`);
    kind = 'float';
  } else {
    const name = knownFormats[formatTag];
    throw new WavCodecError(`${where}: unsupported WAV format code 0x${formatTag.toString(16).padStart(4, '0')}${name ? ` (${name})` : ''}; `
      + 'only PCM and IEEE float are decoded natively (loadAudio can convert other codecs with ffmpeg)', formatTag);
  }
  if (channels < 1 || channels > 64) throw new Error(`${where}: implausible channel count ${channels}`);
  if (sampleRate < 1 || sampleRate > 1_536_000) throw new Error(`${where}: implausible sample rate ${sampleRate} Hz`);
  if (blockAlign !== channels * (bits / 8)) {
    throw new Error(`${where}: block align ${blockAlign} does not match ${channels} channel(s) × ${bits} bits`);
  }
  return kind;
}

/** Decodes a WAV file's bytes. Throws an Error naming the problem for anything malformed or unsupported. */
export function decodeWav(bytes: Uint8Array, options: DecodeWavOptions = {}): DecodedWav {
  const where = options.source ? `WAV ${options.source}` : 'WAV';
  const maxSeconds = options.maxSeconds ?? 4 * 3600;
  if (bytes.length < 12) throw new Error(`${where}: truncated file (${bytes.length} bytes, a RIFF header needs 12)`);
  const riff = fourcc(bytes, 0);
  if (riff !== 'RIFF') {
    const hint = riff === 'RIFX' ? ' (big-endian RIFX is not supported)' : riff === 'RF64' ? ' (RF64 is not supported)' : '';
    throw new Error(`${where}: not a RIFF file (starts with ${JSON.stringify(riff)})${hint}`);
  }
  if (fourcc(bytes, 8) !== 'WAVE') throw new Error(`${where}: RIFF file of type ${JSON.stringify(fourcc(bytes, 8))}, not WAVE`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  let fmt: FmtChunk | null = null;
  let data: { at: number; size: number } | null = null;
  let at = 12;
  while (at + 8 <= bytes.length) {
    const id = fourcc(bytes, at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === 'fmt ') {
      if (body + size > bytes.length) throw new Error(`${where}: truncated fmt chunk (declares ${size} bytes, ${bytes.length - body} remain)`);
      fmt = parseFmt(view, body, size, where);
    } else if (id === 'data') {
      if (body + size > bytes.length) {
        throw new Error(`${where}: truncated data chunk (declares ${size} bytes, only ${bytes.length - body} remain)`);
      }
      data = { at: body, size };
      if (fmt) break; // everything needed is known; trailing chunks do not matter
    }
    if (body + size > bytes.length && !data) {
      throw new Error(`${where}: truncated file (chunk ${JSON.stringify(id)} declares ${size} bytes, only ${bytes.length - body} remain)`);
    }
    at = body + size + (size & 1);
  }
  if (!fmt) throw new Error(`${where}: no fmt chunk found`);
  if (!data) throw new Error(`${where}: no data chunk found`);
  const format = checkFmt(fmt, where);
  const { channels, sampleRate, blockAlign, bits } = fmt;
  if (data.size === 0) throw new Error(`${where}: data chunk is empty (no samples)`);
  if (data.size % blockAlign !== 0) {
    throw new Error(`${where}: data chunk size ${data.size} is not a multiple of the ${blockAlign}-byte sample frame (truncated?)`);
  }
  const frames = data.size / blockAlign;
  if (frames / sampleRate > maxSeconds) {
    throw new Error(`${where}: ${(frames / sampleRate).toFixed(1)} s of audio exceeds the limit of ${maxSeconds} s`);
  }

  const channelData = Array.from({ length: channels }, () => new Float32Array(frames));
  const bytesPer = bits / 8;
  const read = sampleReader(view, format, bits);
  for (let f = 0; f < frames; f++) {
    const base = data.at + f * blockAlign;
    for (let c = 0; c < channels; c++) channelData[c]![f] = read(base + c * bytesPer);
  }
  let samples = channelData[0]!;
  if (channels > 1) {
    samples = new Float32Array(frames);
    for (let f = 0; f < frames; f++) {
      let s = 0;
      for (let c = 0; c < channels; c++) s += channelData[c]![f]!;
      samples[f] = s / channels;
    }
  }
  return { sampleRate, channels, samples, channelData, bitsPerSample: bits, format };
}

function sampleReader(view: DataView, format: 'pcm' | 'float', bits: number): (at: number) => number {
  if (format === 'float') return bits === 64 ? (at) => view.getFloat64(at, true) : (at) => view.getFloat32(at, true);
  switch (bits) {
    case 8: return (at) => (view.getUint8(at) - 128) / 128;
    case 16: return (at) => view.getInt16(at, true) / 32768;
    case 24: return (at) => {
      const u = view.getUint8(at) | (view.getUint8(at + 1) << 8) | (view.getUint8(at + 2) << 16);
      return ((u << 8) >> 8) / 8388608; // sign-extend from 24 bits
    };
    default: return (at) => view.getInt32(at, true) / 2147483648;
  }
}

/** Encodes mono samples in [-1, 1] (clipped) as a 16-bit PCM WAV file. */
export function encodeWav(samples: Float32Array | Float64Array, sampleRate: number): Uint8Array {
  if (!Number.isInteger(sampleRate) || sampleRate < 1) throw new Error(`encodeWav: sample rate must be a positive integer, got ${sampleRate}`);
  const dataSize = samples.length * 2;
  if (44 + dataSize > 0xffffffff) throw new Error(`encodeWav: ${samples.length} samples exceed the 4 GiB RIFF limit`);
  const out = new Uint8Array(44 + dataSize);
  const view = new DataView(out.buffer);
  const ascii = (at: number, s: string): void => { for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i); };
  ascii(0, 'RIFF'); view.setUint32(4, 36 + dataSize, true); ascii(8, 'WAVE');
  ascii(12, 'fmt '); view.setUint32(16, 16, true);
  view.setUint16(20, formatPcm, true); view.setUint16(22, 1, true);
  view.setUint32(24, sampleRate, true); view.setUint32(28, sampleRate * 2, true);
  view.setUint16(32, 2, true); view.setUint16(34, 16, true);
  ascii(36, 'data'); view.setUint32(40, dataSize, true);
  for (let i = 0; i < samples.length; i++) {
    const x = samples[i]!;
    const v = Number.isNaN(x) ? 0 : Math.max(-32768, Math.min(32767, Math.round(x * 32768)));
    view.setInt16(44 + 2 * i, v, true);
  }
  return out;
}

/** True when the bytes start like a RIFF/WAVE file. */
export function isWav(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && fourcc(bytes, 0) === 'RIFF' && fourcc(bytes, 8) === 'WAVE';
}
