// Streaming bodies: server-sent events as OpenAI writes them (`data: {json}\n\n`, closed by `data: [DONE]\n\n`)
// and NDJSON as Ollama writes it (one JSON object per line). `eventStream` runs a producer that writes into
// a ReadableStream; when the client goes away the stream is cancelled and the producer's signal aborts.

export const sseHeaders = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' } as const;
export const ndjsonHeaders = { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-cache' } as const;

export const sseData = (value: unknown): string => `data: ${typeof value === 'string' ? value : JSON.stringify(value)}\n\n`;
export const ndjsonLine = (value: unknown): string => `${JSON.stringify(value)}\n`;

/**
 * A byte stream fed by `produce(write, signal)`. `signal` aborts when `upstream` (the request's signal) does or
 * the consumer cancels. Writes after that are dropped. The stream closes when `produce` settles.
 */
export function eventStream(upstream: AbortSignal, produce: (write: (text: string) => void, signal: AbortSignal) => Promise<void>): ReadableStream<Uint8Array> {
  const controller = new AbortController();
  const onUpstream = (): void => controller.abort(upstream.reason);
  if (upstream.aborted) controller.abort(upstream.reason);
  else upstream.addEventListener('abort', onUpstream, { once: true });
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    start(sink) {
      const write = (text: string): void => {
        if (controller.signal.aborted) return;
        try { sink.enqueue(encoder.encode(text)); } catch { controller.abort(); }
      };
      void produce(write, controller.signal).finally(() => {
        upstream.removeEventListener('abort', onUpstream);
        try { sink.close(); } catch { /* already cancelled */ }
      });
    },
    cancel() {
      controller.abort(new Error('client closed the stream'));
    },
  });
}
