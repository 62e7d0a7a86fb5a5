// Decoded media kept for the next record that names the same file. A demo stage reads tens of thousands of
// records over a few thousand images and clips — the multi-question records, the where / bar / box questions and
// every later stage ask about the same training images — and decoding them again (PNG inflate, normalisation,
// WAV reading and the log-mel: about half the main thread's time reading the quick recipe's instruct files, the
// chat template and tokenizer most of the rest) was repeated in every stage.
//
// Images are kept decoded (8-bit RGB, before resizing and normalisation: a quarter of the float pixels), audio as
// its mel features (per feature-extractor settings). A file is known by its path, size and modification time, so
// a file rewritten in place is read again. Past `maxBytes` nothing more is kept. Callers get their own copy of
// kept features (they may be transferred to another thread); kept images are shared and never written.

import { statSync } from 'node:fs';
import type { RgbImage } from '../vision/preprocess/decode.ts';

export interface AudioFeatures {
  features: Float32Array;
  length: number;
}

export class MediaCache {
  private readonly images = new Map<string, RgbImage>();
  private readonly audio = new Map<string, AudioFeatures>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(readonly maxBytes: number) {}

  get size(): number {
    return this.bytes;
  }

  /** The decoded image at `path`, from `load` the first time. */
  image(path: string, load: () => Promise<RgbImage>): Promise<RgbImage> {
    return this.lookup(this.images, fileKey(path, ''), load, (v) => v, (v) => v.data.byteLength);
  }

  /** The mel features of the clip at `path` under extractor settings `settings`, from `load` the first time. */
  audioFeatures(path: string, settings: string, load: () => Promise<AudioFeatures>): Promise<AudioFeatures> {
    return this.lookup(this.audio, fileKey(path, settings), load, (v) => ({ features: v.features.slice(), length: v.length }), (v) => v.features.byteLength);
  }

  private async lookup<V>(map: Map<string, V>, key: string | null, load: () => Promise<V>, give: (v: V) => V, bytes: (v: V) => number): Promise<V> {
    if (key === null) return load(); // unreadable: `load` names the error
    const kept = map.get(key);
    if (kept !== undefined) {
      this.hits++;
      return give(kept);
    }
    this.misses++;
    const v = await load();
    const b = bytes(v);
    if (!map.has(key) && this.bytes + b <= this.maxBytes) {
      map.set(key, give(v));
      this.bytes += b;
    }
    return v;
  }
}

function fileKey(path: string, settings: string): string | null {
  try {
    const s = statSync(path);
    return `${path}\0${s.size}\0${s.mtimeMs}\0${settings}`;
  } catch {
    return null;
  }
}
