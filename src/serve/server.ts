// Runs the app on @hono/node-server and shuts it down gracefully: stop accepting connections, let running and
// queued work finish for a grace period, then abort what is left (its clients see the stream end), and resolve
// once nothing runs. `installSignalHandlers` ties that to SIGTERM/SIGINT and exits 0.

import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { ChatEngine } from '../infer/engine.ts';
import { createApp, type AppOptions } from './app.ts';
import { WorkQueue } from './queue.ts';
import { withWebApp } from './static.ts';

export interface ServerOptions extends Omit<AppOptions, 'isDraining'> {
  engine: ChatEngine;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. Default 8080. */
  port?: number;
  /** Requests that may wait while one generates; more get 429. Default 8. */
  maxWaiting?: number;
  /** How long shutdown lets running work finish before cancelling it. Default 10 s. */
  graceMs?: number;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly queue: WorkQueue;
  close(): Promise<void>;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const queue = new WorkQueue(opts.maxWaiting ?? 8);
  const shutdown = new AbortController();
  let draining = false;
  const app = createApp({ engine: opts.engine, queue, shutdown: shutdown.signal }, {
    ...(opts.apiKey !== undefined ? { apiKey: opts.apiKey } : {}),
    ...(opts.maxBodyBytes !== undefined ? { maxBodyBytes: opts.maxBodyBytes } : {}),
    isDraining: () => draining,
  });
  const host = opts.host ?? '127.0.0.1';
  const { server, info } = await new Promise<{ server: ServerType; info: AddressInfo }>((resolve, reject) => {
    const s = serve({ fetch: withWebApp(app).fetch, hostname: host, port: opts.port ?? 8080 }, (info) => resolve({ server: s, info }));
    s.once('error', reject);
  });
  const shownHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${shownHost}:${info.port}`,
    port: info.port,
    queue,
    close(): Promise<void> {
      closing ??= (async () => {
        draining = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        const grace = new Promise<void>((resolve) => setTimeout(resolve, opts.graceMs ?? 10_000).unref());
        await Promise.race([queue.idle(), grace]);
        shutdown.abort(new Error('server shutting down'));
        await queue.idle();
        if ('closeIdleConnections' in server) server.closeIdleConnections();
        const force = setTimeout(() => { if ('closeAllConnections' in server) server.closeAllConnections(); }, 2000).unref();
        await closed;
        clearTimeout(force);
      })();
      return closing;
    },
  };
}

/** SIGTERM/SIGINT → graceful close → exit 0 (a second signal exits at once). */
export function installSignalHandlers(server: RunningServer, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): void {
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopping) process.exit(130);
    stopping = true;
    log(`tessera serve: ${sig}, finishing running work and shutting down`);
    server.close().then(() => process.exit(0), (e: unknown) => { log(`tessera serve: shutdown failed: ${(e as Error).message}`); process.exit(1); });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
