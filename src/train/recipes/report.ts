// The recipe's scoring: the final model on the held-out split (per task accuracy, chance and the no-media
// baseline, src/eval/evaluate.ts), optionally a earlier stage's model on the same records (so what the last
// stage changed is visible: DPO should lower the false "yes" rate on vqa-exist and lose nothing elsewhere), the
// final model on some of its own training records (held-out far below train is memorising; both low is
// under-training), and the stage timings measured from each stage's metrics.jsonl. Written as eval.json and
// report.md.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateRecords, formatReport, type EvalReport } from '../../eval/evaluate.ts';
import { predictRecord, readTaskRecords, type Predictor, type TaskRecord } from '../../eval/predict.ts';
import { normalizeAnswer } from '../../data/synthetic/score.ts';
import { loadTessera } from '../../models/tessera/checkpoint.ts';
import { readMetrics } from '../metrics.ts';
import type { Recipe } from './recipe.ts';

export interface StageTiming {
  stage: string;
  steps: number;
  /** Wall time of the whole stage: loading and encoding data, training, saving. */
  seconds: number;
  /** Time inside optimiser steps, summed from metrics.jsonl (tokens / tokens_per_s per step). */
  trainSeconds: number;
  secondsPerStep: number;
}

export interface RecipeEval {
  recipe: string;
  final: EvalReport;
  /** vqa-exist items whose answer is "no" that the model answered "yes". */
  falseYes: { final: number; compare: number | null; count: number };
  compare: { stage: string; report: EvalReport } | null;
  /** The final model on the first records of each task of the training split (absent in older reports). */
  train?: EvalReport | null;
  timings: StageTiming[];
  wallSeconds: number;
}

/** Stage timing from its run folder. */
export function stageTiming(stage: string, runDir: string, seconds: number): StageTiming {
  const path = join(runDir, 'metrics.jsonl');
  const m = existsSync(path) ? readMetrics(path) : [];
  let prev = 0, train = 0;
  for (const r of m) {
    const tokens = Number(r.tokens), rate = Number(r.tokens_per_s);
    if (rate > 0) train += (tokens - prev) / rate;
    prev = tokens;
  }
  return { stage, steps: m.length, seconds, trainSeconds: train, secondsPerStep: m.length ? train / m.length : 0 };
}

/** The first `perTask` records of every task of a JSONL file (held-out or training split). */
export function firstPerTask(path: string, perTask: number): TaskRecord[] {
  const seen = new Map<string, number>();
  return readTaskRecords(path).filter((r) => {
    const n = seen.get(r.task) ?? 0;
    seen.set(r.task, n + 1);
    return n < perTask;
  });
}

async function falseYesRate(p: Predictor, records: readonly TaskRecord[]): Promise<number> {
  const absent = records.filter((r) => r.task === 'vqa-exist' && normalizeAnswer(r.reference) === 'no');
  let yes = 0;
  for (const r of absent) {
    const out = await predictRecord(p, r);
    if ('answer' in out && normalizeAnswer(out.answer) === 'yes') yes++;
  }
  return absent.length ? yes / absent.length : 0;
}

export async function evaluateRecipe(r: Recipe, o: { finalDir: string; compareDir: string | null; heldout: string; train?: string; timings: StageTiming[]; wallSeconds: number }): Promise<RecipeEval> {
  const records = firstPerTask(o.heldout, r.eval.perTask);
  const predictor = (dir: string): Predictor => {
    const { model, processor } = loadTessera(dir);
    return { model: model.eval(), processor, maxNewTokens: r.eval.maxNewTokens };
  };
  const fin = predictor(o.finalDir);
  const final = await evaluateRecords(fin, records, { baseline: r.eval.baseline, data: o.heldout });
  const count = records.filter((x) => x.task === 'vqa-exist' && normalizeAnswer(x.reference) === 'no').length;
  const falseYes = { final: await falseYesRate(fin, records), compare: null as number | null, count };
  let compare: RecipeEval['compare'] = null;
  if (o.compareDir && r.eval.compareStage) {
    const cmp = predictor(o.compareDir);
    compare = { stage: r.eval.compareStage, report: await evaluateRecords(cmp, records, { baseline: false, data: o.heldout }) };
    falseYes.compare = await falseYesRate(cmp, records);
  }
  let train: EvalReport | null = null;
  if (o.train && r.eval.trainPerTask) train = await evaluateRecords(fin, firstPerTask(o.train, r.eval.trainPerTask), { baseline: false, data: o.train });
  return { recipe: r.name, final, falseYes, compare, train, timings: o.timings, wallSeconds: o.wallSeconds };
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '-' : `${(100 * x).toFixed(1)}%`);

/**
 * report.md: the held-out table (with the compared stage's accuracy and the accuracy on training records),
 * false-yes rates and stage timings.
 */
export function formatRecipeReport(e: RecipeEval): string {
  const before = new Map(e.compare?.report.tasks.map((t) => [t.task, t.accuracy]) ?? []);
  const onTrain = new Map(e.train?.tasks.map((t) => [t.task, t.accuracy]) ?? []);
  const head = `${e.compare ? ` | ${e.compare.stage}` : ''}${e.train ? ' | train records' : ''} |`;
  const extra = (e.compare ? 1 : 0) + (e.train ? 1 : 0);
  const rows = e.final.tasks.map((t) => `| ${t.task} | ${t.count} | ${pct(t.accuracy)} | ${pct(t.chance)} | ${pct(t.baseline)}` +
    `${e.compare ? ` | ${pct(before.get(t.task))}` : ''}${e.train ? ` | ${pct(onTrain.get(t.task))}` : ''} |`);
  const trainLine = e.train ? ` The same model on ${e.train.overall.count} of its training records: ${pct(e.train.overall.accuracy)}.` : '';
  const timing = e.timings.map((t) => `| ${t.stage} | ${t.steps} | ${t.seconds.toFixed(0)} | ${t.trainSeconds.toFixed(0)} | ${t.secondsPerStep.toFixed(2)} |`);
  return [
    `# tessera recipe \`${e.recipe}\`: held-out evaluation`, '',
    `Wall time ${(e.wallSeconds / 60).toFixed(1)} min. Overall accuracy ${pct(e.final.overall.accuracy)}, no-media baseline ${pct(e.final.overall.baseline)}.${trainLine}`, '',
    `| task | count | accuracy | chance | no-media${head}`, `|---|---|---|---|---${'|---'.repeat(extra)}|`, ...rows, '',
    `False "yes" on vqa-exist items whose answer is "no" (${e.falseYes.count}): final ${pct(e.falseYes.final)}` +
      (e.falseYes.compare !== null ? `, ${e.compare?.stage} ${pct(e.falseYes.compare)}` : '') + '.', '',
    '| stage | steps | wall s | train s | s/step |', '|---|---|---|---|---|', ...timing, '',
    '```', formatReport(e.final), '```', '',
  ].join('\n');
}

export function writeRecipeReport(dir: string, e: RecipeEval): void {
  writeFileSync(join(dir, 'eval.json'), `${JSON.stringify(e, null, 2)}\n`);
  writeFileSync(join(dir, 'report.md'), formatRecipeReport(e));
}
