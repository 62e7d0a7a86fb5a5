// The task table: one generator per task name of the card. Image and tone tasks are synchronous; speech
// tasks spawn espeak-ng and sox, so every generator is called through one async signature.
import type { Rng } from './prng.ts';
import { chartMax, chartValue } from './chart.ts';
import { crossCount, tool } from './cross.ts';
import { ocr } from './ocr.ts';
import type { Sample } from './sample.ts';
import { caption, ground, vqaColor, vqaCount, vqaExist, vqaPosition, vqaShape } from './shapeTasks.ts';
import { asrDigits, audioNumber } from './speechTasks.ts';
import { beeps, pitch } from './tones.ts';
import type { Split, TaskName } from './vocab.ts';

export interface TaskContext {
  readonly rng: Rng;
  readonly split: Split;
  /** Position within the task's records (balances yes/no tasks). */
  readonly index: number;
  /** A private folder for espeak-ng/sox temporaries, and a tag unique to this record. */
  readonly tmpDir: string;
  readonly tag: string;
}

export type TaskGenerator = (c: TaskContext) => Sample | Promise<Sample>;

export const GENERATORS: Readonly<Record<TaskName, TaskGenerator>> = {
  caption: (c) => caption(c.rng, c.split),
  'vqa-color': (c) => vqaColor(c.rng, c.split),
  'vqa-shape': (c) => vqaShape(c.rng, c.split),
  'vqa-count': (c) => vqaCount(c.rng, c.split),
  'vqa-position': (c) => vqaPosition(c.rng, c.split),
  'vqa-exist': (c) => vqaExist(c.rng, c.split, c.index),
  ocr: (c) => ocr(c.rng, c.split),
  'chart-value': (c) => chartValue(c.rng, c.split),
  'chart-max': (c) => chartMax(c.rng, c.split),
  ground: (c) => ground(c.rng, c.split),
  'asr-digits': (c) => asrDigits(c.rng, c.split, c.tmpDir, c.tag),
  'audio-number': (c) => audioNumber(c.rng, c.split, c.tmpDir, c.tag),
  beeps: (c) => beeps(c.rng),
  pitch: (c) => pitch(c.rng),
  'cross-count': (c) => crossCount(c.rng, c.split, c.index, c.tmpDir, c.tag),
  tool: (c) => tool(c.rng, c.split),
};
