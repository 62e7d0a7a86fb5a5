// RIFF/WAVE PCM: a 16-bit writer and a reader for 8/16/32-bit PCM and 32-bit float, enough for the
// generator's files and its tests. (src/data/audio/wav.ts is the project's general reader; this one keeps the
// generator free of an in-progress dependency.) Layout per the Microsoft RIFF WAVE spec: "fmt " then "data".

export interface PcmAudio {
  readonly sampleRate: number;
  readonly channels: number;
  /** Interleaved samples in [-1, 1]. */
  readonly samples: Float32Array;
}

/** Mono float samples → 16-bit PCM WAV bytes (clipped to [-1, 1], rounded to nearest). */
export function encodeWav16(samples: Float32Array, sampleRate: number): Buffer {
  const data = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) {
    const v = Math.max(-1, Math.min(1, samples[i]!));
    data.writeInt16LE(Math.round(v * 32767), i * 2);
  }
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

export function decodeWav(bytes: Uint8Array, name = 'WAV'): PcmAudio & { readonly bitsPerSample: number; readonly format: number } {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 12 || b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${name}: not a RIFF/WAVE file`);
  let fmt: { format: number; channels: number; sampleRate: number; bits: number } | null = null;
  let off = 12;
  while (off + 8 <= b.length) {
    const id = b.toString('ascii', off, off + 4);
    const size = b.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'fmt ') {
      fmt = { format: b.readUInt16LE(body), channels: b.readUInt16LE(body + 2), sampleRate: b.readUInt32LE(body + 4), bits: b.readUInt16LE(body + 14) };
      // WAVE_FORMAT_EXTENSIBLE keeps the real format code in the sub-format GUID.
      if (fmt.format === 0xfffe && size >= 26) fmt.format = b.readUInt16LE(body + 24);
    } else if (id === 'data') {
      if (!fmt) throw new Error(`${name}: data chunk before fmt chunk`);
      // espeak-ng streams write 0x7fffffff as the data size; clamp to the bytes present.
      const end = Math.min(b.length, body + size);
      return { sampleRate: fmt.sampleRate, channels: fmt.channels, bitsPerSample: fmt.bits, format: fmt.format, samples: toFloat(b.subarray(body, end), fmt.format, fmt.bits, name) };
    }
    off = body + size + (size & 1);
  }
  throw new Error(`${name}: no data chunk`);
}

function toFloat(d: Buffer, format: number, bits: number, name: string): Float32Array {
  if (format === 3 && bits === 32) {
    const out = new Float32Array(d.length >> 2);
    for (let i = 0; i < out.length; i++) out[i] = d.readFloatLE(i * 4);
    return out;
  }
  if (format !== 1) throw new Error(`${name}: unsupported WAV format code ${format}`);
  if (bits === 16) {
    const out = new Float32Array(d.length >> 1);
    for (let i = 0; i < out.length; i++) out[i] = d.readInt16LE(i * 2) / 32768;
    return out;
  }
  if (bits === 8) return Float32Array.from(d, (v) => (v - 128) / 128);
  if (bits === 32) {
    const out = new Float32Array(d.length >> 2);
    for (let i = 0; i < out.length; i++) out[i] = d.readInt32LE(i * 4) / 2147483648;
    return out;
  }
  throw new Error(`${name}: unsupported PCM bit depth ${bits}`);
}
