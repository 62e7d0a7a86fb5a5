// Builds the web chat (index.html + src/*.ts + style) with vite into src/app/web/dist/, which the server serves
// at `/` (src/serve/static.ts). dist/ is not committed: `npm run build:web` (this file) makes it, `npm start`
// builds it first, and the browser test rebuilds it when a source file is newer than the build.
//   node --import tsx src/app/web/build.ts

import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const webRoot = dirname(fileURLToPath(import.meta.url));
export const webDist = join(webRoot, 'dist');

function newestMtime(dir: string, skip: ReadonlySet<string>): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    if (skip.has(name)) continue;
    const p = join(dir, name);
    const s = statSync(p);
    newest = Math.max(newest, s.isDirectory() ? newestMtime(p, skip) : s.mtimeMs);
  }
  return newest;
}

/** True when dist/index.html is missing or older than any source of the web app. */
export function webBuildIsStale(): boolean {
  const index = join(webDist, 'index.html');
  if (!existsSync(index)) return true;
  return newestMtime(webRoot, new Set(['dist', 'node_modules'])) > statSync(index).mtimeMs;
}

/** Runs the vite build (a few seconds); vite is a dev dependency, so a production install cannot rebuild. */
export async function buildWebApp(opts: { quiet?: boolean } = {}): Promise<string> {
  let vite: typeof import('vite');
  try {
    vite = await import('vite');
  } catch (e) {
    throw new Error(`web chat: cannot build ${webDist}: vite is not installed (npm install with dev dependencies): ${(e as Error).message}`);
  }
  await vite.build({
    root: webRoot, base: './', configFile: false, logLevel: opts.quiet ? 'warn' : 'info',
    build: { outDir: webDist, emptyOutDir: true, target: 'es2022', reportCompressedSize: false },
  });
  return webDist;
}

/** Builds unless the build is up to date. */
export async function ensureWebBuilt(opts: { quiet?: boolean } = {}): Promise<string> {
  return webBuildIsStale() ? buildWebApp(opts) : webDist;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildWebApp();
}
