// The web chat (src/app/web, built by vite into src/app/web/dist) served by the same hono server as the API:
// `GET /` from a browser (Accept: text/html) gets dist/index.html, `GET /assets/<file>` the hashed bundles
// (cached for a year: their names change with their content); everything else — and `GET /` from API clients,
// which keeps its JSON — goes on to the API app. The files are public (no API key: they are the same for
// everyone); the page itself asks for the key when the API answers 401. Without a build, a browser gets a page
// saying how to make one.
//
// @example
//   const app = withWebApp(createApp(ctx, opts));   // then serve({ fetch: app.fetch })

import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { Hono, type Context } from 'hono';
import { repoRoot } from '../util/paths.ts';

export const defaultWebDist = join(repoRoot, 'src/app/web/dist');

export interface WebAppOptions {
  /** Folder of the vite build. Default src/app/web/dist. */
  distDir?: string;
}

const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json', '.woff2': 'font/woff2',
  '.map': 'application/json',
};

const notBuilt = `<!doctype html><meta charset="utf-8"><title>tessera</title>
<body style="font:16px system-ui,sans-serif;max-width:40em;margin:4em auto;line-height:1.5">
<h1>tessera</h1><p>The API is up (<code>/v1</code>, <code>/api</code>), but the web chat has not been built.</p>
<p>Run <code>npm run build:web</code> and reload this page.</p></body>`;

async function fileResponse(c: Context, path: string, cache: string): Promise<Response | null> {
  let body: Buffer;
  try {
    body = await readFile(path);
  } catch {
    return null;
  }
  const type = contentTypes[extname(path)] ?? 'application/octet-stream';
  const headers = { 'content-type': type, 'content-length': String(body.length), 'cache-control': cache, 'x-content-type-options': 'nosniff' };
  return new Response(c.req.method === 'HEAD' ? null : new Uint8Array(body), { status: 200, headers });
}

/** A hono app that serves the web chat and hands every other request to `api`. */
export function withWebApp(api: Hono, opts: WebAppOptions = {}): Hono {
  const dist = opts.distDir ?? defaultWebDist;
  const app = new Hono();
  const index = async (c: Context): Promise<Response> =>
    (await fileResponse(c, join(dist, 'index.html'), 'no-cache')) ?? c.html(notBuilt, 200, { 'cache-control': 'no-cache' });

  app.on(['GET', 'HEAD'], '/', (c) => ((c.req.header('accept') ?? '').includes('text/html') ? index(c) : api.fetch(c.req.raw)));
  app.on(['GET', 'HEAD'], '/index.html', index);
  app.on(['GET', 'HEAD'], '/assets/:file', async (c) => {
    const file = c.req.param('file');
    // Only plain file names: nothing can climb out of dist/assets.
    if (!/^[\w.-]+$/.test(file) || file.startsWith('.')) return api.fetch(c.req.raw);
    return (await fileResponse(c, join(dist, 'assets', file), 'public, max-age=31536000, immutable')) ?? api.fetch(c.req.raw);
  });
  app.all('*', (c) => api.fetch(c.req.raw));
  return app;
}
