// The generator's entry point: writes <outDir>/data.jsonl (LLaVA-style records as in
// shared/tasks/SYNTHETIC_TASKS.md, media paths relative to the JSONL), media under img/ and audio/,
// meta.jsonl (each record's drawn scene: shapes and boxes, chart values, voice and effects …) and, on request,
// prefs.jsonl (DPO pairs, prefs.ts). Record i of task t draws from Rng.fork(seed, split, t, i), so records are
// independent: they are generated concurrently and written in order, and the same seed gives the same bytes.
//
// The `tool` record's first gpt turn holds the call in a `tool_calls` field, value empty:
//   {"from":"gpt","value":"","tool_calls":[{"name":"calculator","arguments":{"expression":"3+7+2"}}]}
// then {"from":"tool","value":"12"} and {"from":"gpt","value":"12"} (cross.ts).
// Held-out rules (vocab.ts): train never draws `purple triangle` or `yellow square` in caption, vqa-* or
// ground images (nor names them in questions), never uses the ocr fonts Noto Serif Display / DejaVu Sans Mono,
// the espeak-ng voice en-029 or variants f5/Annie/klatt, or the dashed chart grid; the held-out split uses
// them in about half of its items. Use different seeds for the two splits.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from './prng.ts';
import { preferenceRecord } from './prefs.ts';
import type { PreferenceRecord } from './prefs.ts';
import type { Sample, Scene, Turn } from './sample.ts';
import { GENERATORS } from './tasks.ts';
import { ALL_TASKS, isTaskName } from './vocab.ts';
import type { Split, TaskName } from './vocab.ts';

export interface SynthOptions {
  readonly outDir: string;
  readonly tasks: readonly TaskName[];
  /** Records per task. */
  readonly n: number;
  readonly seed: number;
  readonly split: Split;
  /** Also write prefs.jsonl. Default false. */
  readonly prefs?: boolean;
  /** Records generated at once (speech spawns processes). Default 4. */
  readonly concurrency?: number;
}

export interface SynthRecord {
  readonly id: string;
  readonly task: TaskName;
  readonly image?: string;
  readonly audio?: string;
  readonly conversations: readonly Turn[];
}

export interface TaskStats {
  readonly task: TaskName;
  readonly count: number;
  readonly seconds: number;
}

export interface SynthResult {
  readonly records: SynthRecord[];
  /** scenes[i] is what records[i] drew. */
  readonly scenes: Scene[];
  readonly stats: TaskStats[];
}

/** `all` or a comma list → task names; throws naming the unknown ones. */
export function parseTaskList(list: string): TaskName[] {
  if (list.trim() === 'all') return [...ALL_TASKS];
  const names = list.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const bad = names.filter((s) => !isTaskName(s));
  if (bad.length > 0) throw new Error(`unknown task(s): ${bad.join(', ')} (known: ${ALL_TASKS.join(', ')})`);
  if (names.length === 0) throw new Error('no tasks given');
  return names as TaskName[];
}

export function recordId(task: TaskName, i: number): string {
  return `${task}-${String(i).padStart(6, '0')}`;
}

/** The card's record: markers for each medium, then the question; reply turns follow. */
export function toRecord(id: string, s: Sample): SynthRecord {
  const markers = `${s.image ? '<image>\n' : ''}${s.audio ? '<audio>\n' : ''}`;
  const human: Turn = { from: 'human', value: markers + s.question };
  return {
    id,
    task: s.task,
    ...(s.image ? { image: `img/${id}.png` } : {}),
    ...(s.audio ? { audio: `audio/${id}.wav` } : {}),
    conversations: [human, ...s.reply],
  };
}

function checkOptions(o: SynthOptions): void {
  if (!Number.isInteger(o.n) || o.n < 0) throw new Error(`synthesize: n must be a non-negative integer, got ${o.n}`);
  if (!Number.isInteger(o.seed)) throw new Error(`synthesize: seed must be an integer, got ${o.seed}`);
  if (o.split !== 'train' && o.split !== 'heldout') throw new Error(`synthesize: split must be train or heldout, got ${String(o.split)}`);
  for (const t of o.tasks) if (!isTaskName(t)) throw new Error(`synthesize: unknown task ${String(t)}`);
  const c = o.concurrency ?? 4;
  if (!Number.isInteger(c) || c < 1) throw new Error(`synthesize: concurrency must be a positive integer, got ${c}`);
}

export async function synthesize(o: SynthOptions): Promise<SynthResult> {
  checkOptions(o);
  await mkdir(join(o.outDir, 'img'), { recursive: true });
  await mkdir(join(o.outDir, 'audio'), { recursive: true });
  const tmpDir = await mkdtemp(join(tmpdir(), 'tessera-synth-'));
  const records: SynthRecord[] = [];
  const scenes: Scene[] = [];
  const prefs: PreferenceRecord[] = [];
  const stats: TaskStats[] = [];
  try {
    for (const task of o.tasks) {
      const t0 = performance.now();
      const out = new Array<{ record: SynthRecord; scene: Scene; pref: PreferenceRecord } | undefined>(o.n);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < o.n) {
          const i = next++;
          const id = recordId(task, i);
          const rng = Rng.fork(o.seed, o.split, task, i);
          const sample = await GENERATORS[task]({ rng, split: o.split, index: i, tmpDir, tag: id });
          const record = toRecord(id, sample);
          if (sample.image && record.image) await writeFile(join(o.outDir, record.image), sample.image);
          if (sample.audio && record.audio) await writeFile(join(o.outDir, record.audio), sample.audio);
          out[i] = { record, scene: sample.scene, pref: preferenceRecord(record, sample) };
        }
      };
      await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 4, Math.max(1, o.n)) }, worker));
      for (const r of out) {
        if (!r) throw new Error(`synthesize: a ${task} record was not generated`);
        records.push(r.record);
        scenes.push(r.scene);
        prefs.push(r.pref);
      }
      stats.push({ task, count: o.n, seconds: (performance.now() - t0) / 1000 });
    }
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
  const lines = (xs: readonly unknown[]) => xs.map((x) => JSON.stringify(x) + '\n').join('');
  await writeFile(join(o.outDir, 'data.jsonl'), lines(records));
  await writeFile(join(o.outDir, 'meta.jsonl'), lines(records.map((r, i) => ({ id: r.id, task: r.task, split: o.split, seed: o.seed, scene: scenes[i] }))));
  if (o.prefs) await writeFile(join(o.outDir, 'prefs.jsonl'), lines(prefs));
  return { records, scenes, stats };
}
