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

export interface LoadOptions {
  onBadRecord: OnBadRecord;
  /** Called once per bad record (default: a line on stderr). */
  report?: (bad: BadRecord) => void;
  /** Stop after this many good records. */
  limit?: number;
}

export class BadRecordError extends Error {
  constructor(readonly bad: BadRecord) {
    super(`${bad.file}:${bad.line}: ${bad.reason}`);
  }
}

/** Encodes one parsed JSON line; `baseDir` is the JSONL file's folder (media paths are relative to it). */
export type RecordEncoder<S> = (record: unknown, baseDir: string) => Promise<S>;

/** Reads and encodes every line of a JSONL file, handling bad records as asked. */
export async function loadJsonl<S>(path: string, encode: RecordEncoder<S>, o: LoadOptions): Promise<{ samples: S[]; summary: LoadSummary }> {
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
  let count = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (!raw.trim()) continue;
    if (o.limit !== undefined && samples.length >= o.limit) break;
    count++;
    let reason: string | null = null, sample: S | undefined;
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch (e) {
      reason = `invalid JSON (${(e as Error).message})`;
    }
    if (reason === null) {
      try {
        sample = await encode(record, baseDir);
      } catch (e) {
        reason = (e as Error).message;
      }
    }
    if (reason === null) { samples.push(sample!); continue; }
    const b: BadRecord = { file: path, line: i + 1, reason };
    if (o.onBadRecord === 'fail') throw new BadRecordError(b);
    bad.push(b);
    report(b);
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
