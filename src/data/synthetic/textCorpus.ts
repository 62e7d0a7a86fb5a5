// A plain-text corpus for pretraining the language model on the task vocabulary before it sees any media:
// scene descriptions, questions and answers in words, digit words ↔ digits, counting, simple sums, chart
// readings and tone comparisons. One sentence or Q/A per line. Text is language, not images, so every color
// and shape pair appears here (the held-out rule concerns what is drawn).
import { writeFile } from 'node:fs/promises';
import { Rng } from './prng.ts';
import { captionText } from './shapeTasks.ts';
import { COLORS, DIGIT_WORDS, SHAPES, withArticle } from './vocab.ts';
import type { PlacedShape } from './layout.ts';

export interface TextCorpusOptions {
  readonly outFile: string;
  readonly nLines: number;
  readonly seed: number;
}

type LineMaker = (rng: Rng) => string;

const pair = (rng: Rng) => ({ color: rng.pick(COLORS), shape: rng.pick(SHAPES) });
const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const qa = (rng: Rng, q: string, a: string) => rng.pick([`Question: ${q} Answer: ${a}.`, `Q: ${q} A: ${a}.`, `${q} ${cap(a)}.`]);

const MAKERS: readonly LineMaker[] = [
  (rng) => {
    const k = rng.int(1, 3);
    const shapes = Array.from({ length: k }, (_, i) => ({ ...pair(rng), cx: i, cy: 0, size: 0, box: [0, 0, 0, 0] })) as PlacedShape[];
    return rng.pick([`The image shows ${captionText(shapes)}.`, `In the picture there is ${captionText(shapes)}.`, `${cap(captionText(shapes))}, from left to right.`]);
  },
  (rng) => {
    const a = pair(rng);
    const b = pair(rng);
    const side = rng.pick(['left', 'right']);
    return rng.pick([
      `${cap(withArticle(a.color, a.shape))} is to the ${side} of ${withArticle(b.color, b.shape)}.`,
      qa(rng, `Is the ${a.color} ${a.shape} to the left or right of the ${b.color} ${b.shape}?`, side),
    ]);
  },
  (rng) => {
    const p = pair(rng);
    return rng.pick([qa(rng, `What color is the ${p.shape}?`, p.color), qa(rng, `What shape is the ${p.color} object?`, p.shape), `The ${p.shape} is ${p.color}.`]);
  },
  (rng) => {
    const s = rng.pick(SHAPES);
    const n = rng.int(1, 6);
    const words = DIGIT_WORDS.slice(1, n + 1).join(', ');
    return rng.pick([qa(rng, `How many ${s}s are there?`, String(n)), `Counting the ${s}s: ${words}. There ${n === 1 ? 'is' : 'are'} ${DIGIT_WORDS[n]} ${s}${n === 1 ? '' : 's'}.`]);
  },
  (rng) => {
    const p = pair(rng);
    return qa(rng, `Is there ${withArticle(p.color, p.shape)} in the image?`, rng.pick(['yes', 'no']));
  },
  (rng) => {
    const ds = Array.from({ length: rng.int(1, 3) }, () => rng.int(0, 9));
    const w = ds.map((d) => DIGIT_WORDS[d]).join(' ');
    return rng.pick([`${cap(w)} is written ${ds.join('')}.`, `The digits ${w} make the number ${ds.join('')}.`, qa(rng, 'What number is spoken?', ds.join('')), `${ds.join(' ')} is read aloud as ${w}.`]);
  },
  (rng) => {
    const vs = Array.from({ length: rng.int(2, 5) }, () => rng.int(1, 9));
    const sum = vs.reduce((a, v) => a + v, 0);
    return rng.pick([`${vs.join(' + ')} = ${sum}.`, `${cap(vs.map((v) => DIGIT_WORDS[v]).join(' plus '))} equals ${sum}.`, `The sum of ${vs.join(', ')} is ${sum}.`]);
  },
  (rng) => {
    const vs = Array.from({ length: rng.int(3, 5) }, () => rng.int(1, 9));
    const letters = vs.map((_, i) => String.fromCharCode(65 + i));
    const parts = vs.map((v, i) => `bar ${letters[i]} is ${v}`).join(', ');
    const max = Math.max(...vs);
    const tallest = vs.filter((v) => v === max).length === 1 ? ` The tallest bar is ${letters[vs.indexOf(max)]}.` : '';
    return `In the bar chart, ${parts}.${tallest}`;
  },
  (rng) => {
    const f1 = rng.int(150, 1200);
    const f2 = rng.int(150, 1200);
    if (f1 === f2) return `Two tones at ${f1} Hz have the same pitch.`;
    return `A tone at ${f2} Hz is ${f2 > f1 ? 'higher' : 'lower'} than a tone at ${f1} Hz.`;
  },
  (rng) => {
    const n = rng.int(1, 5);
    return rng.pick([`${cap(DIGIT_WORDS[n]!)} beep${n === 1 ? '' : 's'}: ${Array(n).fill('beep').join(' ')}.`, qa(rng, 'How many beeps are there?', String(n))]);
  },
];

/** Lines for the corpus, deterministic in the seed. */
export function textCorpusLines(nLines: number, seed: number): string[] {
  if (!Number.isInteger(nLines) || nLines < 0) throw new Error(`synthesizeTextCorpus: nLines must be a non-negative integer, got ${nLines}`);
  const rng = Rng.fork(seed, 'text-corpus');
  return Array.from({ length: nLines }, () => rng.pick(MAKERS)(rng));
}

export async function synthesizeTextCorpus(o: TextCorpusOptions): Promise<void> {
  const lines = textCorpusLines(o.nLines, o.seed);
  await writeFile(o.outFile, lines.map((l) => l + '\n').join(''));
}
