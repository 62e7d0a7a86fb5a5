// The words of the synthetic task card (shared/tasks/SYNTHETIC_TASKS.md): shapes, colors with their RGB
// anchors, digit words, the task names, and the held-out rules that make the held-out split measure
// generalisation.
//
// Held-out rules (train never sees these; held-out uses them in about half of its items):
//   - shape tasks (caption, vqa-*, ground): the pairs `purple triangle` and `yellow square` are never drawn in
//     a training image; a held-out item names or contains one of them with probability 1/2.
//   - ocr: the fonts `Noto Serif Display` and `DejaVu Sans Mono` are never used in training.
//   - speech (asr-digits, audio-number, cross-count): the espeak-ng base voice `en-029` and the variants
//     `f5`, `Annie` and `klatt` are never used in training.
//   - charts (chart-value, chart-max, tool): the `dashed` grid style is never used in training.
// Train and held-out also use different seeds (the caller passes them; the split is mixed into every stream).

export const SHAPES = ['circle', 'square', 'triangle'] as const;
export type Shape = (typeof SHAPES)[number];

export const COLORS = ['red', 'green', 'blue', 'yellow', 'purple', 'orange'] as const;
export type Color = (typeof COLORS)[number];

/** Saturated anchors; the drawer jitters each channel by up to ±COLOR_JITTER. */
export const COLOR_RGB: Readonly<Record<Color, readonly [number, number, number]>> = {
  red: [220, 30, 35],
  green: [35, 165, 55],
  blue: [35, 75, 220],
  yellow: [238, 212, 25],
  purple: [140, 45, 185],
  orange: [248, 132, 22],
};
export const COLOR_JITTER = 18;

export const DIGIT_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'] as const;

export const IMAGE_TASKS = [
  'caption', 'vqa-color', 'vqa-shape', 'vqa-count', 'vqa-position', 'vqa-exist', 'ocr', 'chart-value',
  'chart-max', 'ground',
] as const;
export const AUDIO_TASKS = ['asr-digits', 'audio-number', 'beeps', 'pitch'] as const;
export const CROSS_TASKS = ['cross-count', 'tool'] as const;
export const ALL_TASKS = [...IMAGE_TASKS, ...AUDIO_TASKS, ...CROSS_TASKS] as const;
export type TaskName = (typeof ALL_TASKS)[number];

export type Split = 'train' | 'heldout';

export function isTaskName(s: string): s is TaskName {
  return (ALL_TASKS as readonly string[]).includes(s);
}

/** `a red circle`, `an orange square`. */
export function withArticle(color: Color, shape: Shape): string {
  return `${color === 'orange' ? 'an' : 'a'} ${color} ${shape}`;
}

export interface Pair {
  readonly color: Color;
  readonly shape: Shape;
}

export const HELDOUT_PAIRS: readonly Pair[] = [
  { color: 'purple', shape: 'triangle' },
  { color: 'yellow', shape: 'square' },
];
export const HELDOUT_FONTS: readonly string[] = ['Noto Serif Display', 'DejaVu Sans Mono'];
export const HELDOUT_VOICES: readonly string[] = ['en-029'];
export const HELDOUT_VARIANTS: readonly string[] = ['f5', 'Annie', 'klatt'];
export const HELDOUT_CHART_STYLES: readonly string[] = ['dashed'];

export function isHeldoutPair(p: Pair): boolean {
  return HELDOUT_PAIRS.some((h) => h.color === p.color && h.shape === p.shape);
}

export function samePair(a: Pair, b: Pair): boolean {
  return a.color === b.color && a.shape === b.shape;
}

/** Every (color, shape) pair a split may draw: train excludes the held-out pairs. */
export function allowedPairs(split: Split): Pair[] {
  const out: Pair[] = [];
  for (const color of COLORS) for (const shape of SHAPES) {
    const p = { color, shape };
    if (split === 'heldout' || !isHeldoutPair(p)) out.push(p);
  }
  return out;
}
