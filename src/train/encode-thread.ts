// Encoding a stage's records on a second thread. Before its first step a stage reads its records and encodes
// them (chat template, tokens, image pixels, Whisper log-mel): for the demo's instruct stage ~2 minutes on one core
// while the other waits. An EncodeThread is a worker holding its own TesseraProcessor (loaded from the same model
// folder), and loadJsonl hands it two of every three windows of records: the samples are those the main thread would
// make — same code, same processor files — and come back with their media buffers transferred, not copied.
//
// The worker bootstraps through encode-worker.mjs (TypeScript through tsx's loader, as bin/tessera.mjs does).

import { Worker } from 'node:worker_threads';
import type { EncodedSample, TesseraProcessor } from '../models/tessera/processor.ts';
import { preferenceRecords } from './dataset.ts';
import type { PreferencePair } from './dpo.ts';

/** What the worker encodes: conversations (align, instruct) or preference pairs (dpo), from a model folder. */
export interface EncodeSpec {
  readonly modelDir: string;
  readonly kind: 'conversation' | 'preference';
  readonly maxLength: number;
}

/** The record encoder of a spec: the one the main thread uses too, so both threads encode alike. */
export function specEncoder(processor: TesseraProcessor, spec: EncodeSpec): (record: unknown, baseDir: string) => Promise<EncodedSample | PreferencePair<EncodedSample>> {
  const opts = { maxLength: spec.maxLength };
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

export class EncodeThread<S> {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: S) => void; reject: (e: Error) => void }>();
  private failure: Error | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.value as S);
    });
    const fail = (e: Error) => {
      this.failure = new Error(`the encoding thread stopped: ${e.message}`);
      for (const p of this.pending.values()) p.reject(this.failure);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => { if (code !== 0) fail(new Error(`exit code ${code}`)); });
  }

  /** A worker ready to encode per `spec`; its processor is loaded before this resolves (errors reject it). */
  static async start<S>(spec: EncodeSpec): Promise<EncodeThread<S>> {
    const worker = new Worker(new URL('./encode-worker.mjs', import.meta.url), { workerData: spec });
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => reject(new Error(`the encoding thread did not start: ${e.message}`));
      worker.once('error', onError);
      worker.once('message', (m: { ready?: boolean }) => {
        worker.off('error', onError);
        if (m.ready) resolve(); else reject(new Error('the encoding thread did not start'));
      });
    });
    return new EncodeThread<S>(worker);
  }

  /** Encodes one parsed record in the worker; rejects with the encoder's own error message. */
  encode(record: unknown, baseDir: string): Promise<S> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<S>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, record, baseDir });
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

/** The ArrayBuffers of every typed array inside `v` (to transfer them rather than copy). */
export function buffersOf(v: unknown, out = new Set<ArrayBuffer>()): ArrayBuffer[] {
  if (ArrayBuffer.isView(v)) { if (v.buffer instanceof ArrayBuffer) out.add(v.buffer); }
  else if (Array.isArray(v)) for (const x of v) buffersOf(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) buffersOf(x, out);
  return [...out];
}
