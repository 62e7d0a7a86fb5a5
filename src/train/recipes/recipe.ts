// A training recipe as data: everything `runRecipe` needs to go from nothing to a scored tessera model — how much
// synthetic data of each task to draw (shared/tasks/SYNTHETIC_TASKS.md) for train and held-out, the text corpus,
// the tokenizer's vocabulary, the model's sizes, the stage sequence (src/train/stages.ts configs whose data paths
// are relative to the run's data/ folder) and how the result is evaluated. The presets (smoke, quick, demo) are
// in presets.ts; this file holds the types and the helpers that keep the stage lists short.
//
// Data files the preparation step writes under <run>/data (presets name them in their stage configs):
//   train/data.jsonl, train/meta.jsonl, train/prefs.jsonl   the generator's output (all tasks, one folder)
//   train/task-<task>.jsonl, train/prefs-<task>.jsonl       the same records split by task (for per-task weights)
//   train/shapes.jsonl, train/sounds.jsonl                  records the encoder pretraining can label (the presets'
//                                                           pretrain-vision draws fresh images instead: generate:images, generate:reading)
//   train/multiturn.jsonl                                   two records joined into one two-exchange conversation
//   train/where.jsonl                                       "Is the {color} {shape} in the left or right half?" about
//                                                           every object of images with 2+ distinct pairs
//   train/mq-task-<task>.jsonl                              each record asked up to data.moreQuestions more things
//                                                           about its own media (its first exchange unchanged)
//   heldout/data.jsonl, heldout/mixed.jsonl                 held-out records (mixed: tasks interleaved, for eval loss)
//   text/train.jsonl, text/heldout.jsonl                    {"text"} lines: the corpus and the conversations' text

import { ALL_TASKS, type TaskName } from '../../data/synthetic/vocab.ts';
import type { StageInput } from '../stages.ts';

/** Model sizes (config.ts TesseraSizes without the tokenizer-dependent ids). */
export interface RecipeModel {
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly maxPositions: number;
  readonly vision: { readonly imageSize: number; readonly patchSize: number; readonly hidden: number; readonly layers: number; readonly heads: number };
  readonly audio: { readonly melBins: number; readonly dModel: number; readonly layers: number; readonly heads: number; readonly seconds: number };
  /** Std of the normal init of weight matrices (HF initializer_range). */
  readonly initStd: number;
}

export interface RecipeData {
  /** Train records per task. */
  readonly train: Readonly<Record<TaskName, number>>;
  /** Held-out records per task (a different seed, and the held-out combinations of vocab.ts). */
  readonly heldout: number;
  /** Lines of the plain-text corpus (textCorpus.ts). */
  readonly textLines: number;
  /** Two-exchange conversations built from pairs of train records. */
  readonly multiturn: number;
  /** Extra exchanges about the same media added to each train record in train/mq-task-<task>.jsonl. */
  readonly moreQuestions: number;
  /** Preference pairs kept per task in train/prefs-<task>.jsonl (DPO runs few steps; encoding more is waste). */
  readonly prefsPerTask: number;
  readonly trainSeed: number;
  readonly heldoutSeed: number;
}

export interface RecipeEval {
  /** Held-out records scored per task (≤ data.heldout). */
  readonly perTask: number;
  /** Also score with blank media (the no-media baseline). */
  readonly baseline: boolean;
  readonly maxNewTokens: number;
  /** Stage whose model is scored too, to show what the last stage changed (e.g. 'instruct' before DPO). */
  readonly compareStage?: string;
  /** Also score the final model on this many training records per task (the gap to held-out shows memorising). */
  readonly trainPerTask?: number;
}

export interface Recipe {
  readonly name: string;
  readonly description: string;
  readonly data: RecipeData;
  /** The BPE trainer's settings (bpe-train.ts; `spellCapitals`: ocr's words are answered a letter a token). */
  readonly tokenizer: { readonly vocabSize: number; readonly minFrequency: number; readonly spellCapitals?: boolean };
  readonly model: RecipeModel;
  /** Run in order; each starts from the previous stage's model (the first from the initialised one). */
  readonly stages: readonly StageInput[];
  readonly eval: RecipeEval;
  /** Model weights as shipped: float32, or float16 to halve the file. */
  readonly saveDtype: 'float32' | 'float16';
}

export const IMAGE_SHAPE_TASKS: readonly TaskName[] = ['caption', 'vqa-color', 'vqa-shape', 'vqa-count', 'vqa-position', 'vqa-exist', 'ground'];
export const SOUND_TASKS: readonly TaskName[] = ['asr-digits', 'audio-number', 'beeps', 'pitch'];

/** The same number of train records for every task, with per-task overrides. */
export function perTask(n: number, overrides: Partial<Record<TaskName, number>> = {}): Record<TaskName, number> {
  return Object.fromEntries(ALL_TASKS.map((t) => [t, overrides[t] ?? n])) as Record<TaskName, number>;
}

/** Stage data sources: one per task file, weighted (tasks with weight 0 or no records are left out). */
export function taskMix(weights: Partial<Record<TaskName, number>>, file: (t: TaskName) => string = (t) => `train/task-${t}.jsonl`): { path: string; weight: number }[] {
  return Object.entries(weights).filter(([, w]) => (w ?? 0) > 0).map(([t, w]) => ({ path: file(t as TaskName), weight: w! }));
}

/** Every task at weight 1, with overrides. */
export function allTasks(overrides: Partial<Record<TaskName, number>> = {}): Partial<Record<TaskName, number>> {
  return Object.fromEntries(ALL_TASKS.map((t) => [t, overrides[t] ?? 1]));
}

/** Throws naming the problem when a recipe is inconsistent (stage names, eval sizes, compare stage). */
export function checkRecipe(r: Recipe): void {
  const where = `recipe ${r.name}`;
  const names = r.stages.map((s) => s.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`${where}: two stages are named "${dup}" (stage names are run folder names)`);
  if (r.stages.length === 0) throw new Error(`${where}: no stages`);
  if (r.eval.perTask > r.data.heldout) throw new Error(`${where}: eval.perTask ${r.eval.perTask} exceeds data.heldout ${r.data.heldout}`);
  if (r.eval.compareStage && !names.includes(r.eval.compareStage)) {
    throw new Error(`${where}: eval.compareStage "${r.eval.compareStage}" is not one of the stages (${names.join(', ')})`);
  }
  for (const [t, n] of Object.entries(r.data.train)) {
    if (!Number.isInteger(n) || n < 0) throw new Error(`${where}: data.train.${t} must be a non-negative integer, got ${n}`);
  }
  const m = r.model;
  if (m.hidden % m.heads || m.heads % m.kvHeads) throw new Error(`${where}: model hidden ${m.hidden}, heads ${m.heads}, kvHeads ${m.kvHeads} do not divide`);
  if (m.vision.imageSize % m.vision.patchSize) throw new Error(`${where}: image size ${m.vision.imageSize} is not a multiple of patch ${m.vision.patchSize}`);
}
