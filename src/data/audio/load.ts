// Audio file loading: WAV is decoded natively (wav.ts) and resampled (resample.ts); any other container or codec
// (mp3, ogg/opus, flac, m4a, μ-law WAV, …) is handed to the `ffmpeg` binary, which writes mono float32 little-endian
// PCM at the target rate to a pipe. Without ffmpeg on PATH those formats fail with an error that says so.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeWav, isWav, WavCodecError } from './wav.ts';
import { resample } from './resample.ts';

export interface LoadAudioOptions {
  /** ffmpeg executable (default 'ffmpeg', looked up on PATH). */
  readonly ffmpegPath?: string;
  /** Refuse audio longer than this many seconds (default 4 hours). */
  readonly maxSeconds?: number;
}

export interface LoadedAudio {
  /** Mono samples at `sampleRate`, [S]. */
  readonly samples: Float32Array;
  readonly sampleRate: number;
  /** 'wav' when decoded natively, 'ffmpeg' otherwise. */
  readonly decoder: 'wav' | 'ffmpeg';
}

/** A guess at the container from magic bytes, only for error messages. */
function sniff(bytes: Uint8Array): string {
  const ascii = (at: number, n: number): string => String.fromCharCode(...bytes.subarray(at, at + n));
  if (ascii(0, 3) === 'ID3' || (bytes[0] === 0xff && ((bytes[1] ?? 0) & 0xe0) === 0xe0)) return 'mp3';
  if (ascii(0, 4) === 'OggS') return 'ogg';
  if (ascii(0, 4) === 'fLaC') return 'flac';
  if (ascii(4, 4) === 'ftyp') return 'mp4/m4a';
  if (ascii(0, 4) === '\u001aE\u00df\u00a3') return 'webm/mkv';
  if (isWav(bytes)) return 'wav';
  return 'unknown format';
}

/**
 * Loads an audio file (a path, or its bytes) as mono float32 at `targetRate` Hz.
 * @example const { samples } = await loadAudio('speech.mp3'); // 16 kHz mono
 */
export async function loadAudio(source: string | Uint8Array, targetRate = 16000, options: LoadAudioOptions = {}): Promise<LoadedAudio> {
  if (!Number.isInteger(targetRate) || targetRate < 1) throw new Error(`loadAudio: targetRate must be a positive integer, got ${targetRate}`);
  const name = typeof source === 'string' ? source : `<${source.length} bytes>`;
  let bytes: Uint8Array;
  if (typeof source === 'string') {
    try { bytes = await readFile(source); } catch (err) {
      throw new Error(`loadAudio: cannot read ${source}: ${(err as Error).message}`);
    }
  } else {
    bytes = source;
  }
  if (bytes.length === 0) throw new Error(`loadAudio: ${name} is empty`);
  if (isWav(bytes)) {
    try {
      const wav = decodeWav(bytes, { source: name, ...(options.maxSeconds !== undefined ? { maxSeconds: options.maxSeconds } : {}) });
      return { samples: resample(wav.samples, wav.sampleRate, targetRate), sampleRate: targetRate, decoder: 'wav' };
    } catch (err) {
      // Only a codec we do not decode goes on to ffmpeg; a broken file stays an error.
      if (!(err instanceof WavCodecError)) throw err;
    }
  }
  return decodeWithFfmpeg(bytes, typeof source === 'string' ? source : null, name, targetRate, options);
}

async function decodeWithFfmpeg(bytes: Uint8Array, path: string | null, name: string, targetRate: number,
  options: LoadAudioOptions): Promise<LoadedAudio> {
  const ffmpeg = options.ffmpegPath ?? 'ffmpeg';
  const maxBytes = Math.ceil((options.maxSeconds ?? 4 * 3600) * targetRate) * 4;
  // Bytes go through a temporary file, not stdin: mp4/m4a needs a seekable input when its index sits at the end.
  const tempDir = path === null ? await mkdtemp(join(tmpdir(), 'tessera-audio-')) : null;
  const input = tempDir ? join(tempDir, 'input') : (path as string);
  try {
    if (tempDir) await writeFile(input, bytes);
    const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-i', input,
      '-map', '0:a:0', '-vn', '-ac', '1', '-ar', String(targetRate), '-f', 'f32le', '-acodec', 'pcm_f32le', 'pipe:1'];
    const pcm = await new Promise<Buffer>((resolve, reject) => {
      const child = spawn(ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const chunks: Buffer[] = [];
      let total = 0;
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => {
        total += c.length;
        if (total > maxBytes) {
          child.kill('SIGKILL');
          reject(new Error(`loadAudio: ${name} decodes to more than ${options.maxSeconds ?? 4 * 3600} s of audio (limit)`));
        } else {
          chunks.push(c);
        }
      });
      child.stderr.on('data', (c: Buffer) => { stderr = (stderr + c.toString('utf8')).slice(-2000); });
      child.on('error', (err: NodeJS.ErrnoException) => {
        reject(err.code === 'ENOENT'
          ? new Error(`loadAudio: ${name} is ${sniff(bytes)}, not PCM WAV; decoding it needs ffmpeg, but "${ffmpeg}" was not found `
            + '(install ffmpeg and put it on PATH, or convert the file to WAV)')
          : new Error(`loadAudio: could not start ffmpeg ("${ffmpeg}") for ${name}: ${err.message}`));
      });
      child.on('close', (code, signal) => {
        if (code === 0) resolve(Buffer.concat(chunks));
        else reject(new Error(`loadAudio: ffmpeg failed on ${name} (${sniff(bytes)}), exit ${code ?? signal}: ${stderr.trim() || 'no message'}`));
      });
    });
    if (pcm.length < 4) throw new Error(`loadAudio: ffmpeg decoded no audio samples from ${name}`);
    const samples = new Float32Array(Math.floor(pcm.length / 4));
    new Uint8Array(samples.buffer).set(pcm.subarray(0, samples.length * 4));
    return { samples, sampleRate: targetRate, decoder: 'ffmpeg' };
  } finally {
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  }
}
