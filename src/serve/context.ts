// What every route shares: the engine, the work queue, and the server's shutdown signal; `admit` turns the
// queue's refusal into a 429 and ties a job's cancellation to both its client and the shutdown.

import type { ChatEngine, ChatRequest, ChatResult } from '../infer/engine.ts';
import { ApiError } from './errors.ts';
import { QueueFullError, type WorkQueue } from './queue.ts';

export interface ServeContext {
  readonly engine: ChatEngine;
  readonly queue: WorkQueue;
  /** Aborts when the server gives up on running work (shutdown past its grace period). */
  readonly shutdown: AbortSignal;
}

export interface Admission {
  /** Aborts when the client leaves or the server shuts down. */
  readonly signal: AbortSignal;
  release(): void;
}

export async function admit(ctx: ServeContext, requestSignal: AbortSignal): Promise<Admission> {
  const signal = AbortSignal.any([requestSignal, ctx.shutdown]);
  try {
    const release = await ctx.queue.acquire(signal);
    return { signal, release };
  } catch (e) {
    if (e instanceof QueueFullError) throw new ApiError(429, e.message, null, 'queue_full');
    throw e;
  }
}

export function checkModel(ctx: ServeContext, model: string | undefined): void {
  if (model !== undefined && model !== ctx.engine.modelId) {
    throw new ApiError(404, `The model '${model}' does not exist; this server serves '${ctx.engine.modelId}'`, 'model', 'model_not_found');
  }
}

/** `data:<mime>;base64,<data>` → bytes. */
export function decodeDataUrl(url: string, param: string): Uint8Array {
  const m = /^data:([^;,]*)(;base64)?,(.*)$/s.exec(url);
  if (!m) throw new ApiError(400, `${param}: only data URLs (data:image/png;base64,...) are accepted`, param, 'invalid_image_url');
  return m[2] ? decodeBase64(m[3]!, param) : new TextEncoder().encode(decodeURIComponent(m[3]!));
}

export function decodeBase64(data: string, param: string): Uint8Array {
  const clean = data.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(clean)) throw new ApiError(400, `${param}: not valid base64`, param, 'invalid_base64');
  return new Uint8Array(Buffer.from(clean, 'base64'));
}

/**
 * Starts `engine.chat` and resolves once it has produced its first delta or settled, so a request error (bad
 * media, prompt too long) still becomes an HTTP status before a streamed response commits to 200.
 * The deltas then come from the returned generator, whose return value is the ChatResult. When the start fails,
 * the job's queue place is released before the error propagates.
 */
export async function startChat(engine: ChatEngine, req: ChatRequest, job: Admission): Promise<AsyncGenerator<string, ChatResult>> {
  try {
    return await firstDelta(engine, req, job.signal);
  } catch (e) {
    job.release();
    throw e;
  }
}

async function firstDelta(engine: ChatEngine, req: ChatRequest, signal: AbortSignal): Promise<AsyncGenerator<string, ChatResult>> {
  const buffered: string[] = [];
  let wake: (() => void) | null = null;
  let settled: { ok: true; value: ChatResult } | { ok: false; error: unknown } | null = null;
  const poke = (): void => { const w = wake; wake = null; w?.(); };
  const done = engine.chat(req, (d) => { buffered.push(d); poke(); }, signal).then(
    (value) => { settled = { ok: true, value }; poke(); },
    (error: unknown) => { settled = { ok: false, error }; poke(); },
  );
  if (buffered.length === 0 && !settled) await new Promise<void>((resolve) => { wake = resolve; });
  const failed = settled as { ok: false; error: unknown } | { ok: true } | null;
  if (buffered.length === 0 && failed && !failed.ok) throw failed.error;
  return (async function* deltas(): AsyncGenerator<string, ChatResult> {
    for (;;) {
      while (buffered.length) yield buffered.shift()!;
      const s = settled as { ok: true; value: ChatResult } | { ok: false; error: unknown } | null;
      if (s) {
        await done;
        if (s.ok) return s.value;
        throw s.error;
      }
      await new Promise<void>((resolve) => { wake = resolve; });
    }
  })();
}
