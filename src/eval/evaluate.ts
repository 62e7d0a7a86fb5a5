// `tessera eval`: per task the accuracy, count, chance level and the no-media baseline (the same questions
// with a blank white image / silence of the same size), scored by the card's scorer (src/data/synthetic/
// score.ts: exact match after normalising, IoU ≥ 0.5 for `ground`, call + final answer for `tool`). A model
// that reads its media scores well above its baseline; one that guesses from the question does not.

import { CHANCE, scoreAnswer, scoreTool, summarize } from '../data/synthetic/score.ts';
import { isTaskName, type TaskName } from '../data/synthetic/vocab.ts';
import { loadTessera } from '../models/tessera/checkpoint.ts';
import { predictRecord, readTaskRecords, type Prediction, type Predictor, type TaskRecord } from './predict.ts';

export interface TaskReport {
  task: string;
  count: number;
  accuracy: number;
  chance: number;
  /** Accuracy with blank media; null when the task's records have no media or the baseline was skipped. */
  baseline: number | null;
}

export interface EvalReport {
  data: string;
  tasks: TaskReport[];
  overall: { count: number; accuracy: number; baseline: number | null };
}

export function scorePrediction(r: TaskRecord & { task: TaskName }, p: Prediction): boolean {
  if ('turns' in p) return scoreTool({ call: p.turns[0], final: p.turns[1] }, Number(r.reference));
  if (r.task === 'tool') return false;
  return scoreAnswer(r.task, p.answer, r.reference);
}

export async function evaluateRecords(p: Predictor, records: readonly TaskRecord[], o: { baseline?: boolean; data?: string } = {}): Promise<EvalReport> {
  const graded: { task: TaskName; correct: boolean }[] = [], blank: { task: TaskName; correct: boolean }[] = [];
  for (const r of records) {
    if (!isTaskName(r.task)) throw new Error(`record ${r.id}: unknown task "${r.task}" (known: ${Object.keys(CHANCE).join(', ')})`);
    const rec = r as TaskRecord & { task: TaskName };
    graded.push({ task: rec.task, correct: scorePrediction(rec, await predictRecord(p, r)) });
    if ((o.baseline ?? true) && (r.images.length || r.audios.length)) {
      blank.push({ task: rec.task, correct: scorePrediction(rec, await predictRecord(p, r, true)) });
    }
  }
  const base = new Map(summarize(blank).map((s) => [s.task, s.accuracy]));
  const tasks = summarize(graded).map((s) => ({ task: s.task, count: s.count, accuracy: s.accuracy, chance: s.chance, baseline: base.get(s.task) ?? null }));
  const correct = graded.filter((g) => g.correct).length;
  return {
    data: o.data ?? '',
    tasks,
    overall: { count: graded.length, accuracy: graded.length ? correct / graded.length : 0, baseline: blank.length ? blank.filter((b) => b.correct).length / blank.length : null },
  };
}

export async function evaluateFile(modelDir: string, dataPath: string, o: { limit?: number; baseline?: boolean; maxNewTokens?: number } = {}): Promise<EvalReport> {
  const { model, processor } = loadTessera(modelDir);
  const records = readTaskRecords(dataPath, o.limit);
  return evaluateRecords({ model: model.eval(), processor, maxNewTokens: o.maxNewTokens ?? 48 }, records, { ...o, data: dataPath });
}

const pct = (x: number | null) => (x === null ? '     -' : `${(100 * x).toFixed(1).padStart(5)}%`);

export function formatReport(r: EvalReport): string {
  const rows = r.tasks.map((t) => `${t.task.padEnd(14)} ${String(t.count).padStart(5)}  ${pct(t.accuracy)}  ${pct(t.chance)}  ${pct(t.baseline)}`);
  return [`${r.data}`, `${'task'.padEnd(14)} ${'count'.padStart(5)}  accuracy  chance  no-media`, ...rows,
    `${'overall'.padEnd(14)} ${String(r.overall.count).padStart(5)}  ${pct(r.overall.accuracy)}          ${pct(r.overall.baseline)}`].join('\n');
}
