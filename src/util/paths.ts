// Where things are on disk: the repository root, and the shared/ folder that sits beside a clone
// (fixtures, task card, benchmarks). TESSERA_SHARED overrides the latter.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function sharedDir(): string {
  return process.env.TESSERA_SHARED ?? resolve(repoRoot, '../shared');
}

/** Path of a Hugging Face parity fixture folder, or null when shared/ is absent (tests then skip). */
export function hfFixture(name: string): string | null {
  const p = resolve(sharedDir(), 'fixtures/hf', name);
  return existsSync(p) ? p : null;
}
