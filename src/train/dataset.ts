// Reading training data: LLaVA-style JSONL (shared/tasks/SYNTHETIC_TASKS.md), preference JSONL for DPO, and
// plain-text JSONL ({"text": …}) for text pretraining. Each line is encoded by a caller-given function (the
// tessera processor); a line that fails — invalid JSON, a missing or corrupt image/WAV, a marker without its
// media or media without a marker, more tokens than the length limit — is reported with its file and line and
// then skipped or made fatal per `onBadRecord`, never trained on. A summary counts what was kept and skipped.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export type OnBadRecord = 'skip' | 'fail';

export interface BadRecord {
  file: string;
  line: number;
  reason: string;
}

export interface LoadSummary {
  file: string;
  lines: number;
  kept: number;
  bad: BadRecord[];
}

export interface LoadOptions<S = unknown> {
  onBadRecord: OnBadRecord;
  /** Called once per bad record (default: a line on stderr). */
  report?: (bad: BadRecord) => void;
  /** Stop after this many good records. */
  limit?: number;
  /**
   * A second encoder that gives the same samples on another thread (EncodeThread): of every three windows of
   * records it takes the last two while this thread encodes the first.
   */
  helper?: RecordEncoder<S> | undefined;
}

export class BadRecordError extends Error {
  constructor(readonly bad: BadRecord) {
    super(`${bad.file}:${bad.line}: ${bad.reason}`);
  }
}

/** Encodes one parsed JSON line; `baseDir` is the JSONL file's folder (media paths are relative to it). */
export type RecordEncoder<S> = (record: unknown, baseDir: string) => Promise<S>;

/** Records encoded concurrently by loadJsonl (1,200 demo records with images and audio: 11.5 s one at a time, 8.5 s sixteen at a time). */
const LOAD_WINDOW = 16;

/** Reads and encodes every line of a JSONL file, handling bad records as asked. */
export async function loadJsonl<S>(path: string, encode: RecordEncoder<S>, o: LoadOptions<S>): Promise<{ samples: S[]; summary: LoadSummary }> {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${path}: cannot read data file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const report = o.report ?? ((b: BadRecord) => process.stderr.write(`bad record ${b.file}:${b.line}: ${b.reason}\n`));
  const baseDir = dirname(file);
  const samples: S[] = [], bad: BadRecord[] = [];
  const lines = text.split('\n');
  // encode a window of records at a time: a record's file reads and image decodes run on libuv's threads, so
  // while one waits another's audio features or tokens are computed; results are taken in line order
  const encodeLine = async (raw: string, viaHelper: boolean): Promise<S> => {
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch (e) {
      throw new Error(`invalid JSON (${(e as Error).message})`);
    }
    return viaHelper && o.helper ? o.helper(record, baseDir) : encode(record, baseDir);
  };
  let count = 0;
  // the helper takes two windows to this thread's one: this thread also parses, receives and collects (the demo's
  // instruct records: 86 s on one thread, 66 s with the helper taking half, 51 s two thirds, 52 s three quarters)
  const step = o.helper ? 3 * LOAD_WINDOW : LOAD_WINDOW;
  for (let start = 0; start < lines.length; start += step) {
    const window: number[] = [];
    for (let i = start; i < Math.min(lines.length, start + step); i++) if (lines[i]!.trim()) window.push(i);
    const wanted = o.limit === undefined ? window : window.slice(0, Math.max(0, o.limit - samples.length));
    const results = await Promise.allSettled(wanted.map((i, k) => encodeLine(lines[i]!, k >= LOAD_WINDOW)));
    // `wanted` stops at the limit, so the limit is only reached by its last record
    for (let k = 0; k < wanted.length; k++) {
      count++;
      const r = results[k]!;
      if (r.status === 'fulfilled') { samples.push(r.value); continue; }
      const b: BadRecord = { file: path, line: wanted[k]! + 1, reason: (r.reason as Error).message };
      if (o.onBadRecord === 'fail') throw new BadRecordError(b);
      bad.push(b);
      report(b);
    }
    if (o.limit !== undefined && samples.length >= o.limit) break;
  }
  return { samples, summary: { file: path, lines: count, kept: samples.length, bad } };
}

export function formatSummary(s: LoadSummary): string {
  return `${s.file}: ${s.kept} of ${s.lines} record(s) kept${s.bad.length ? `, ${s.bad.length} bad record(s) skipped` : ''}`;
}

/** A preference line → two supervised records: the prompt turns followed by the chosen / the rejected answer. */
export function preferenceRecords(raw: unknown): { chosen: Record<string, unknown>; rejected: Record<string, unknown> } {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('preference record: must be a JSON object');
  const r = raw as Record<string, unknown>;
  const id = typeof r.id === 'string' || typeof r.id === 'number' ? String(r.id) : '?';
  for (const key of ['chosen', 'rejected'] as const) {
    if (typeof r[key] !== 'string' || (r[key] as string).length === 0) throw new Error(`preference record ${id}: "${key}" must be a non-empty string`);
  }
  if (!Array.isArray(r.conversations)) throw new Error(`preference record ${id}: "conversations" must be a list of prompt turns`);
  const last = r.conversations.at(-1) as { from?: unknown } | undefined;
  if (last?.from === 'gpt') throw new Error(`preference record ${id}: the prompt turns must not end with a gpt turn`);
  const { chosen, rejected, ...rest } = r;
  const withAnswer = (answer: unknown) => ({ ...rest, conversations: [...(r.conversations as unknown[]), { from: 'gpt', value: answer }] });
  return { chosen: withAnswer(chosen), rejected: withAnswer(rejected) };
}

/** A text-pretraining line: {"text": "..."}. */
export function textOf(raw: unknown): string {
  const t = (raw as { text?: unknown } | null)?.text;
  if (typeof t !== 'string' || t.length === 0) throw new Error('text record: "text" must be a non-empty string');
  return t;
}
