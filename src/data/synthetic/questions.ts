// Every question of the card that one drawn scene answers, with its answer. A training image or sound can then
// be asked several things in one conversation (as LLaVA's instruction data asks several questions about one
// image), so one pass over its media tokens carries several supervised answers instead of one.
// Questions and answers follow the card's exact texts; a scene only gets a question whose answer it fixes
// (a color question only for a shape that occurs once, a position question only for two shapes ≥ 20 px apart).
import { captionText, nearMisses } from './shapeTasks.ts';
import { boxPercent } from './layout.ts';
import type { PlacedShape } from './layout.ts';
import type { Rng } from './prng.ts';
import type { ChartScene, Scene, SpeechScene } from './sample.ts';
import { DIGIT_WORDS, samePair, withArticle } from './vocab.ts';
import type { Split, TaskName } from './vocab.ts';

export interface SceneQuestion {
  readonly task: TaskName;
  readonly question: string;
  readonly answer: string;
}

/**
 * The card's questions that `scene` answers; [] for scenes with one question only (ocr text, tones).
 * `rng` draws the vqa-exist near misses (as many as there are present pairs).
 */
export function sceneQuestions(scene: Scene, split: Split, rng: Rng): SceneQuestion[] {
  if (scene.kind === 'shapes') return shapeQuestions(scene.shapes, split, rng);
  if (scene.kind === 'chart') {
    const qs = barValueQuestions(scene);
    const max = Math.max(...scene.values);
    if (scene.values.filter((v) => v === max).length === 1) qs.push({ task: 'chart-max', question: 'Which bar is the tallest?', answer: scene.labels[scene.values.indexOf(max)]! });
    return qs;
  }
  if (scene.kind === 'speech') return speechQuestions(scene);
  // cross-count's parts: how many circles, which number is spoken
  if (scene.kind === 'cross') return [...shapeQuestions(scene.circles, split, rng), ...speechQuestions(scene.speech)];
  return [];
}

/** chart-value's question about every bar of a chart, in bar order (also the recipe's bars stage, prepare.ts). */
export function barValueQuestions(scene: ChartScene): SceneQuestion[] {
  return scene.values.map((v, i) => ({ task: 'chart-value', question: `What is the value of bar ${scene.labels[i]}?`, answer: String(v) }));
}

function speechQuestions(scene: SpeechScene): SceneQuestion[] {
  const digits = scene.words.map((w) => DIGIT_WORDS.indexOf(w as (typeof DIGIT_WORDS)[number]));
  if (digits.some((d) => d < 0)) return [];
  return [
    { task: 'asr-digits', question: 'Transcribe the audio.', answer: scene.words.join(' ') },
    { task: 'audio-number', question: 'What number is spoken?', answer: digits.join('') },
  ];
}

function shapeQuestions(shapes: readonly PlacedShape[], split: Split, rng: Rng): SceneQuestion[] {
  const qs: SceneQuestion[] = [];
  const once = <K extends 'color' | 'shape'>(k: K, v: PlacedShape[K]) => shapes.filter((s) => s[k] === v).length === 1;
  const distinct = distinctPairs(shapes);
  const xs = shapes.map((s) => s.cx).sort((a, b) => a - b);
  const minDx = Math.min(...xs.slice(1).map((x, i) => x - xs[i]!));
  // the caption generator keeps centres ≥ 6 px apart so that left to right is plain
  if (distinct && shapes.length <= 3 && !(minDx < 6)) qs.push({ task: 'caption', question: 'Describe the image.', answer: captionText(shapes) });
  for (const s of shapes) {
    if (once('shape', s.shape)) qs.push({ task: 'vqa-color', question: `What color is the ${s.shape}?`, answer: s.color });
    if (once('color', s.color)) qs.push({ task: 'vqa-shape', question: `What shape is the ${s.color} object?`, answer: s.shape });
  }
  qs.push(...countQuestions(shapes));
  if (shapes.length === 2 && distinct && Math.abs(shapes[0]!.cx - shapes[1]!.cx) >= 20) {
    for (const [a, b] of [[shapes[0]!, shapes[1]!], [shapes[1]!, shapes[0]!]] as const) {
      qs.push({ task: 'vqa-position', question: `Is the ${a.color} ${a.shape} to the left or right of the ${b.color} ${b.shape}?`, answer: a.cx < b.cx ? 'left' : 'right' });
    }
  }
  // vqa-exist: every present pair ("yes") and as many near misses ("no": absent, one attribute from a present
  // object, drawn from the split's pairs so a training text never names a held-out pair)
  const present = shapes.filter((s, i) => shapes.findIndex((t) => samePair(s, t)) === i);
  const misses = nearMisses(shapes, split);
  for (const p of present) qs.push({ task: 'vqa-exist', question: `Is there ${withArticle(p.color, p.shape)} in the image?`, answer: 'yes' });
  for (const p of rng.sample(misses, Math.min(present.length, misses.length))) qs.push({ task: 'vqa-exist', question: `Is there ${withArticle(p.color, p.shape)} in the image?`, answer: 'no' });
  qs.push(...groundQuestions(shapes));
  return qs;
}

/** vqa-count's question about every kind of shape present, in order of first appearance. */
export function countQuestions(shapes: readonly PlacedShape[]): SceneQuestion[] {
  return [...new Set(shapes.map((s) => s.shape))].map((kind) =>
    ({ task: 'vqa-count', question: `How many ${kind}s are there?`, answer: String(shapes.filter((s) => s.shape === kind).length) }));
}

/** No two objects share a (color, shape) pair: each can be named by its pair. */
export function distinctPairs(shapes: readonly PlacedShape[]): boolean {
  return shapes.every((s, i) => shapes.every((t, j) => i === j || !samePair(s, t)));
}

/** ground's question about every object, when no two objects share a (color, shape) pair; else none (also the
 * recipe's boxes stage, prepare.ts). */
export function groundQuestions(shapes: readonly PlacedShape[]): SceneQuestion[] {
  if (!distinctPairs(shapes)) return [];
  return shapes.map((s) => ({ task: 'ground', question: `Where is the ${s.color} ${s.shape}? Answer with a box.`, answer: `[${boxPercent(s.box).join(', ')}]` }));
}
