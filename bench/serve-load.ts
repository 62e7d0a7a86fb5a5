// Load check of `tessera serve` on loopback: a tiny real Qwen2 checkpoint behind the server, N concurrent
// streaming chat clients (raw fetch + SSE parsing), bounded in count, tokens and wall time. Reports latency
// (time to first byte/token and total, p50/p95/max), how many got 429, that every accepted request ended
// with `data: [DONE]` and its usage, and the server process's RSS before and after.
//   npx tsx bench/serve-load.ts [--clients 16] [--waiting 8] [--tokens 24] [--rounds 2]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createEngine } from '../src/infer/engine.ts';
import { writeTinyCheckpoint } from '../src/infer/tiny-checkpoint.ts';
import { startServer } from '../src/serve/server.ts';

const { values } = parseArgs({ options: {
  clients: { type: 'string', default: '16' }, waiting: { type: 'string', default: '8' },
  tokens: { type: 'string', default: '24' }, rounds: { type: 'string', default: '2' }, 'deadline-s': { type: 'string', default: '120' },
} });
const clients = Number(values.clients), waiting = Number(values.waiting), tokens = Number(values.tokens), rounds = Number(values.rounds);
const deadline = AbortSignal.timeout(Number(values['deadline-s']) * 1000);

interface Outcome { status: number; firstMs: number; totalMs: number; done: boolean; usage: boolean; completionTokens: number; error?: string }

async function oneClient(url: string, i: number): Promise<Outcome> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST', signal: deadline, headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'tiny', stream: true, stream_options: { include_usage: true }, max_tokens: tokens, temperature: 0.8, seed: i,
      messages: [{ role: 'user', content: `client ${i}: write something` }] }),
  });
  if (res.status !== 200) { await res.text(); return { status: res.status, firstMs: performance.now() - t0, totalMs: performance.now() - t0, done: false, usage: false, completionTokens: 0 }; }
  let firstMs = -1, buf = '', done = false, usage = false, completionTokens = 0;
  const decoder = new TextDecoder();
  for await (const bytes of res.body!) {
    if (firstMs < 0) firstMs = performance.now() - t0;
    buf += decoder.decode(bytes as Uint8Array, { stream: true });
    let at;
    while ((at = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, at); buf = buf.slice(at + 2);
      const data = event.replace(/^data: /, '');
      if (data === '[DONE]') { done = true; continue; }
      const chunk = JSON.parse(data) as { usage?: { completion_tokens: number } | null; error?: { message: string } };
      if (chunk.error) return { status: 200, firstMs, totalMs: performance.now() - t0, done: false, usage, completionTokens, error: chunk.error.message };
      if (chunk.usage) { usage = true; completionTokens = chunk.usage.completion_tokens; }
    }
  }
  return { status: 200, firstMs, totalMs: performance.now() - t0, done, usage, completionTokens };
}

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN;
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
/** Server process memory after a full collection (clients share the process, so both are counted). */
function memory(): { rss: number; heap: number } {
  globalThis.gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}
const memoryText = (m: { rss: number; heap: number }): string => `RSS ${mib(m.rss)}, JS heap ${mib(m.heap)}`;

const root = mkdtempSync(join(tmpdir(), 'tessera-load-'));
try {
  writeTinyCheckpoint(join(root, 'tiny'), { seed: 1 });
  const server = await startServer({ engine: await createEngine(join(root, 'tiny')), port: 0, maxWaiting: waiting });
  // idle = after one request, so the first generation's one-time allocations (the wasm heap grows and never
  // shrinks, tokenizer and template caches) count as idle; the load must then come back to it
  await oneClient(server.url, -1);
  const idle = memory();
  console.log(`serve-load: ${clients} concurrent streaming clients × ${rounds} rounds, max_tokens ${tokens}, queue 1 running + ${waiting} waiting, ${server.url}`);
  const all: Outcome[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const outcomes = await Promise.all(Array.from({ length: clients }, (_, i) => oneClient(server.url, r * clients + i)));
    all.push(...outcomes);
    const ok = outcomes.filter((o) => o.status === 200);
    console.log(`round ${r + 1}: ${((performance.now() - t0) / 1000).toFixed(2)} s, accepted ${ok.length}, 429 ${outcomes.filter((o) => o.status === 429).length}, other ${outcomes.filter((o) => o.status !== 200 && o.status !== 429).length}; idle again: ${memoryText(memory())}`);
  }
  const ok = all.filter((o) => o.status === 200);
  // a sampled reply may end at once (end-of-text first): [DONE] with usage and 0 tokens is still an answer
  const lost = ok.filter((o) => !o.done || !o.usage);
  const first = ok.map((o) => o.firstMs), total = ok.map((o) => o.totalMs);
  console.log(`accepted ${ok.length}, 429 ${all.filter((o) => o.status === 429).length}, lost (accepted but no [DONE]/usage) ${lost.length}${lost[0]?.error ? ` (${lost[0].error})` : ''}`);
  console.log(`first byte ms p50 ${pct(first, 0.5).toFixed(0)} p95 ${pct(first, 0.95).toFixed(0)} max ${Math.max(...first).toFixed(0)}`);
  console.log(`total ms      p50 ${pct(total, 0.5).toFixed(0)} p95 ${pct(total, 0.95).toFixed(0)} max ${Math.max(...total).toFixed(0)}`);
  console.log(`tokens/s over accepted: ${(ok.reduce((s, o) => s + o.completionTokens, 0) / (Math.max(...total) / 1000)).toFixed(1)} (one generation at a time)`);
  console.log(`memory idle before the load ${memoryText(idle)}, after it ${memoryText(memory())}${globalThis.gc ? '' : ' (run with --expose-gc for settled figures)'}`);
  await server.close();
  if (lost.length) process.exitCode = 1;
} finally {
  rmSync(root, { recursive: true, force: true });
}
