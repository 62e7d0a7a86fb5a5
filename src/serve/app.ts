// The tessera HTTP API as a hono app: OpenAI routes under /v1, Ollama routes under /api, a bearer API key when
// one is set, a request-body limit, and every failure answered in OpenAI's error shape (Ollama routes get
// Ollama's `{error: "..."}`) with its status: 400 validation, 401 key, 404 model/route, 413 body, 429 queue,
// 500 internal, 503 while shutting down.
//
// @example
//   const app = createApp({ engine, queue: new WorkQueue(8), shutdown: new AbortController().signal }, { apiKey: 'k' });

import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ApiError, errorBody, toApiError } from './errors.ts';
import type { ServeContext } from './context.ts';
import { registerOpenAiRoutes } from './openai/routes.ts';
import { registerOllamaRoutes } from './ollama/routes.ts';

export interface AppOptions {
  /** Require `Authorization: Bearer <apiKey>`; absent: no auth. */
  apiKey?: string;
  /** Largest request body in bytes. Default 32 MiB (room for a few base64 images or 30 s of WAV). */
  maxBodyBytes?: number;
  /** While true, new requests get 503. */
  isDraining?: () => boolean;
}

function sendError(c: Context, e: ApiError): Response {
  if (c.req.path.startsWith('/api/')) return c.json({ error: e.message }, e.status);
  return c.json(errorBody(e), e.status);
}

async function readJson(req: Request): Promise<unknown> {
  const text = await req.text();
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, `the request body is not valid JSON: ${(e as Error).message}`, null, 'invalid_json');
  }
}

export function createApp(ctx: ServeContext, opts: AppOptions = {}): Hono {
  const app = new Hono();
  const maxBodyBytes = opts.maxBodyBytes ?? 32 * 1024 * 1024;

  app.use('*', async (c, next) => {
    if (opts.isDraining?.()) return sendError(c, new ApiError(503, 'the server is shutting down', null, 'shutting_down'));
    if (opts.apiKey !== undefined && c.req.path !== '/') {
      const auth = c.req.header('authorization') ?? '';
      if (auth !== `Bearer ${opts.apiKey}`) {
        return sendError(c, new ApiError(401, auth ? 'Incorrect API key provided' : 'Missing API key: send Authorization: Bearer <key>', null, 'invalid_api_key'));
      }
    }
    await next();
  });
  app.use('*', bodyLimit({
    maxSize: maxBodyBytes,
    onError: (c) => {
      // The unread body is left on the socket, so the connection must not be reused.
      c.header('connection', 'close');
      return sendError(c, new ApiError(413, `the request body is over the limit of ${maxBodyBytes} bytes`, null, 'body_too_large'));
    },
  }));

  app.get('/', (c) => c.json({ name: 'tessera', model: ctx.engine.modelId }));
  registerOpenAiRoutes(app, ctx, readJson);
  registerOllamaRoutes(app, ctx, readJson);

  app.notFound((c) => sendError(c, new ApiError(404, `no route ${c.req.method} ${c.req.path}`, null, 'unknown_route')));
  app.onError((e, c) => sendError(c, toApiError(e)));
  return app;
}
