// Encoding a stage's records on a second thread. Before its first step a stage reads its records and encodes
// them (chat template, tokens, image pixels, Whisper log-mel): for the demo's instruct stage ~2 minutes on one core
// while the other waits. An EncodeThread is a worker holding its own TesseraProcessor (loaded from the same model
// folder), and loadJsonl hands it two of every three windows of records: the samples are those the main thread would
// make — same code, same processor files — and come back with their media buffers transferred, not copied.
//
// One worker serves every stage of a process (a recipe runs a dozen): each stage sends its spec, the worker loads
// that model folder's processor, and its media cache (media-cache.ts) outlives the stage, as this thread's does —
// a record's window goes to the same thread in every stage, so each thread meets its own files again. The worker
// does not keep the process alive while it waits for work.
//
// The worker bootstraps through encode-worker.mjs (TypeScript through tsx's loader, as bin/tessera.mjs does).

import { Worker } from 'node:worker_threads';
import { MediaCache } from '../models/tessera/media-cache.ts';
import type { EncodedSample, TesseraProcessor } from '../models/tessera/processor.ts';
import { preferenceRecords } from './dataset.ts';
import type { PreferencePair } from './dpo.ts';

/** What the worker encodes: conversations (align, instruct) or preference pairs (dpo), from a model folder. */
export interface EncodeSpec {
  readonly modelDir: string;
  readonly kind: 'conversation' | 'preference';
  readonly maxLength: number;
}

/** Decoded images and clips kept by this thread for the stages after (each thread has its own). */
export const trainingMedia = new MediaCache(2 * 1024 ** 3);

/** The record encoder of a spec: the one the main thread uses too, so both threads encode alike. */
export function specEncoder(processor: TesseraProcessor, spec: EncodeSpec, media: MediaCache | null = trainingMedia): (record: unknown, baseDir: string) => Promise<EncodedSample | PreferencePair<EncodedSample>> {
  const opts = { maxLength: spec.maxLength, media: media ?? undefined };
  if (spec.kind === 'conversation') return (r, dir) => processor.encodeRecord(r, dir, opts);
  return async (r, dir) => {
    const p = preferenceRecords(r);
    return { chosen: await processor.encodeRecord(p.chosen, dir, opts), rejected: await processor.encodeRecord(p.rejected, dir, opts) };
  };
}

interface Reply {
  id: number;
  value?: unknown;
  error?: string;
}

/** The process's encoding worker, started by the first stage that wants one and kept for the next. */
class SharedWorker {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  failure: Error | null = null;

  constructor(readonly worker: Worker) {
    worker.unref();
    worker.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (!this.pending.size) worker.unref();
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.value);
    });
    const fail = (e: Error) => {
      this.failure = new Error(`the encoding thread stopped: ${e.message}`);
      for (const p of this.pending.values()) p.reject(this.failure);
      this.pending.clear();
      if (shared === this) shared = null;
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
  }

  /** Sends one request; the process stays alive while any is unanswered. */
  request(message: Record<string, unknown>): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ ...message, id });
    });
  }
}

let shared: SharedWorker | null = null;

export class EncodeThread<S> {
  private constructor(private readonly w: SharedWorker, private readonly key: string) {}

  /** The worker set up to encode per `spec`; its processor is loaded before this resolves (errors reject it). */
  static async start<S>(spec: EncodeSpec): Promise<EncodeThread<S>> {
    shared ??= new SharedWorker(new Worker(new URL('./encode-worker.mjs', import.meta.url)));
    const w = shared;
    try {
      await w.request({ spec, key: JSON.stringify(spec) });
    } catch (e) {
      throw new Error(`the encoding thread did not start: ${(e as Error).message}`);
    }
    return new EncodeThread<S>(w, JSON.stringify(spec));
  }

  /** The worker's thread id (the same for every stage of a process while the worker lives). */
  get threadId(): number {
    return this.w.worker.threadId;
  }

  /** Encodes one parsed record in the worker; rejects with the encoder's own error message. */
  encode(record: unknown, baseDir: string): Promise<S> {
    return this.w.request({ key: this.key, record, baseDir }) as Promise<S>;
  }

  /** The stage is done with the worker; it stays for the next. */
  async close(): Promise<void> {}
}

/** The ArrayBuffers of every typed array inside `v` (to transfer them rather than copy). */
export function buffersOf(v: unknown, out = new Set<ArrayBuffer>()): ArrayBuffer[] {
  if (ArrayBuffer.isView(v)) { if (v.buffer instanceof ArrayBuffer) out.add(v.buffer); }
  else if (Array.isArray(v)) for (const x of v) buffersOf(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) buffersOf(x, out);
  return [...out];
}
