// Picks the compute backend: TESSERA_BACKEND=reference|wasm|blas forces one; otherwise the fastest one
// that loads here. Faster backends register a probe in `candidates`.

import { availableParallelism } from 'node:os';
import type { Backend } from './backend.ts';
import { getBackend, setBackend } from './registry.ts';
import { referenceBackend } from './reference/index.ts';

export type BackendName = 'reference' | 'wasm' | 'blas';

/** Probes in order of preference; each returns a ready backend or a reason it cannot run here. */
const candidates: { name: BackendName; load: () => Promise<Backend | string> }[] = [
  // GEMM through the system BLAS, every other kernel from wasm (or the reference when wasm cannot load)
  { name: 'blas', load: async () => (await import('./blas/index.ts')).blasBackend(await wasmBackend().catch(() => referenceBackend), threadCount()) },
  { name: 'wasm', load: wasmBackend },
  { name: 'reference', load: async () => referenceBackend },
];

let wasm: Promise<Backend> | null = null;
/** One wasm runtime (memory + worker pool) per process, shared by the wasm and blas backends. */
function wasmBackend(): Promise<Backend> {
  wasm ??= import('./wasm/index.ts').then((m) => m.createWasmBackend(threadCount()));
  return wasm;
}

/** TESSERA_THREADS, else the number of cores. */
export function threadCount(): number {
  const env = process.env.TESSERA_THREADS;
  if (env !== undefined) {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`TESSERA_THREADS=${env} is not a positive integer`);
    return n;
  }
  return availableParallelism();
}

export function registerCandidate(name: BackendName, load: () => Promise<Backend | string>): void {
  candidates.unshift({ name, load });
}

export interface BackendReport { name: string; threads: number; available: string[]; detail?: string; note?: string }

let chosen: Promise<BackendReport> | null = null;

/** Chooses (once) and activates the backend; returns what was chosen and what else is available. */
export function initBackend(): Promise<BackendReport> {
  chosen ??= (async () => {
    const forced = process.env.TESSERA_BACKEND;
    if (forced && !['reference', 'wasm', 'blas'].includes(forced)) {
      throw new Error(`TESSERA_BACKEND=${forced} is not one of reference, wasm, blas`);
    }
    const available: string[] = [];
    const reasons: string[] = [];
    let pick: Backend | null = null;
    for (const c of candidates) {
      const r = await c.load().catch((e: unknown) => String((e as Error).message ?? e));
      if (typeof r === 'string') { reasons.push(`${c.name}: ${r}`); continue; }
      available.push(c.name);
      if (!pick && (!forced || forced === c.name)) pick = r;
    }
    if (!pick) throw new Error(`TESSERA_BACKEND=${forced} is not available here (${reasons.join('; ') || 'not built'})`);
    setBackend(pick);
    const report: BackendReport = { name: pick.name, threads: pick.threads, available, ...(pick.detail ? { detail: pick.detail } : {}) };
    if (reasons.length) report.note = `unavailable: ${reasons.join('; ')}`;
    return report;
  })();
  return chosen;
}

export async function describeBackend(): Promise<BackendReport> {
  return initBackend();
}

export { getBackend };

/** Every backend that loads here other than the reference, with the reasons for those that do not (for tests and benchmarks). */
export async function loadFastBackends(): Promise<{ backends: Backend[]; unavailable: string[] }> {
  const backends: Backend[] = [], unavailable: string[] = [];
  for (const c of candidates) {
    if (c.name === 'reference') continue;
    const r = await c.load().catch((e: unknown) => String((e as Error).message ?? e));
    if (typeof r === 'string') unavailable.push(`${c.name}: ${r}`);
    else backends.push(r);
  }
  return { backends, unavailable };
}
