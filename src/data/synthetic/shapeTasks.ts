// The shape tasks of the card: caption, vqa-color, vqa-shape, vqa-count, vqa-position, vqa-exist, ground.
// Each draws pairs under the split's rules (vocab.ts), places them (layout.ts), computes the answer from the
// placed list, and paints the PNG (draw.ts). In the held-out split half of the items put a held-out pair at
// the centre of the question.
import type { Rng } from './prng.ts';
import { renderShapes } from './draw.ts';
import { boxPercent, placeShapesOrThrow } from './layout.ts';
import type { PlacedShape, PlaceOptions } from './layout.ts';
import { plainSample } from './sample.ts';
import type { Sample } from './sample.ts';
import { boxIoU } from './score.ts';
import { COLORS, HELDOUT_PAIRS, SHAPES, allowedPairs, samePair, withArticle } from './vocab.ts';
import type { Color, Pair, Shape, Split } from './vocab.ts';

/** k pairs from the split's allowed set, all satisfying `keep` jointly; `focus` (if given) is included. */
function drawPairs(rng: Rng, split: Split, k: number, distinct: (a: Pair, b: Pair) => boolean, focus?: Pair): Pair[] {
  const pool = allowedPairs(split);
  for (let tries = 0; tries < 500; tries++) {
    const out: Pair[] = focus ? [focus] : [];
    for (const p of rng.shuffle(pool)) {
      if (out.length >= k) break;
      if (out.every((q) => distinct(p, q))) out.push(p);
    }
    if (out.length === k) return rng.shuffle(out);
  }
  throw new Error(`drawPairs: cannot draw ${k} pairs`);
}

/** In the held-out split, half of the items centre on a held-out pair. */
function heldoutFocus(rng: Rng, split: Split): Pair | undefined {
  return split === 'heldout' && rng.bool(0.5) ? rng.pick(HELDOUT_PAIRS) : undefined;
}

const distinctPair = (a: Pair, b: Pair) => !samePair(a, b);

/** The split's pairs absent from `present` and one attribute away from one of them: vqa-exist's "no" questions. */
export function nearMisses(present: readonly Pair[], split: Split): Pair[] {
  return allowedPairs(split).filter((p) => !present.some((q) => samePair(p, q)) && present.some((q) => p.color === q.color || p.shape === q.shape));
}
const otherColor = (rng: Rng, c: Color) => rng.pick(COLORS.filter((x) => x !== c));
const otherShape = (rng: Rng, s: Shape) => rng.pick(SHAPES.filter((x) => x !== s));

function place(rng: Rng, pairs: readonly Pair[], opts: PlaceOptions = {}): PlacedShape[] {
  return placeShapesOrThrow(rng, pairs, opts);
}

function scene(shapes: PlacedShape[], target?: Pair) {
  return target ? { kind: 'shapes' as const, shapes, target } : { kind: 'shapes' as const, shapes };
}

export function captionText(shapes: readonly PlacedShape[]): string {
  const names = shapes.slice().sort((a, b) => a.cx - b.cx).map((s) => withArticle(s.color, s.shape));
  return names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

export function caption(rng: Rng, split: Split): Sample {
  const pairs = drawPairs(rng, split, rng.int(1, 3), distinctPair, heldoutFocus(rng, split));
  // 6 px between centres keeps "left to right" unambiguous to the eye
  const shapes = place(rng, pairs, { minDx: 6 });
  const answer = captionText(shapes);
  // Rejected caption: half the time one object's color is wrong, else an absent object is hallucinated.
  let wrong: PlacedShape[];
  const absent = allowedPairs(split).filter((p) => !shapes.some((s) => samePair(s, p)));
  if (shapes.length < 3 && rng.bool()) {
    wrong = [...shapes, { ...rng.pick(absent), cx: rng.uniform(0, 128), cy: 0, size: 0, box: [0, 0, 0, 0] }];
  } else {
    const victim = rng.int(0, shapes.length - 1);
    wrong = shapes.map((s, i) => (i === victim ? { ...s, color: otherColor(rng, s.color) } : s));
  }
  return plainSample('caption', 'Describe the image.', answer, captionText(wrong), scene(shapes), { image: renderShapes(rng, shapes) });
}

export function vqaColor(rng: Rng, split: Split): Sample {
  const pairs = drawPairs(rng, split, rng.int(1, 3), (a, b) => a.shape !== b.shape, heldoutFocus(rng, split));
  const shapes = place(rng, pairs);
  const t = rng.pick(shapes);
  return plainSample('vqa-color', `What color is the ${t.shape}?`, t.color, otherColor(rng, t.color), scene(shapes, t), { image: renderShapes(rng, shapes) });
}

export function vqaShape(rng: Rng, split: Split): Sample {
  const pairs = drawPairs(rng, split, rng.int(1, 3), (a, b) => a.color !== b.color, heldoutFocus(rng, split));
  const shapes = place(rng, pairs);
  const t = rng.pick(shapes);
  return plainSample('vqa-shape', `What shape is the ${t.color} object?`, t.shape, otherShape(rng, t.shape), scene(shapes, t), { image: renderShapes(rng, shapes) });
}

/** 1–6 shapes of one kind (any colors) and 0–2 of other kinds, placed smaller the more there are. */
function countScene(rng: Rng, split: Split, focus?: Pair): { shape: Shape; count: number; shapes: PlacedShape[] } {
  const shape = focus?.shape ?? rng.pick(SHAPES);
  const count = rng.int(1, 6);
  const pool = allowedPairs(split);
  const same = pool.filter((p) => p.shape === shape);
  const others = pool.filter((p) => p.shape !== shape);
  const pairs: Pair[] = [];
  for (let i = 0; i < count; i++) pairs.push(i === 0 && focus ? focus : rng.pick(same));
  const extra = rng.int(0, 2);
  for (let i = 0; i < extra; i++) pairs.push(rng.pick(others));
  const total = pairs.length;
  return { shape, count, shapes: place(rng, rng.shuffle(pairs), { maxSize: total > 5 ? 24 : total > 3 ? 30 : 40 }) };
}

/**
 * A scene like those of the shape tasks, for encoder pretraining on images drawn afresh every step: a third
 * are count scenes, the rest 1–3 distinct pairs (sometimes ≥ 20 px apart, as vqa-position places them).
 * Only the split's pairs appear, so held-out pairs stay unseen.
 */
export function pretrainScene(rng: Rng, split: Split): PlacedShape[] {
  if (rng.bool(1 / 3)) return countScene(rng, split).shapes;
  return place(rng, drawPairs(rng, split, rng.int(1, 3), distinctPair), { minDx: rng.bool(0.25) ? 20 : 6 });
}

export function vqaCount(rng: Rng, split: Split): Sample {
  const { shape, count, shapes } = countScene(rng, split, heldoutFocus(rng, split));
  const wrong = count === 1 ? 2 : count === 6 ? 5 : count + (rng.bool() ? 1 : -1);
  return plainSample('vqa-count', `How many ${shape}s are there?`, String(count), String(wrong), scene(shapes), { image: renderShapes(rng, shapes) });
}

export function vqaPosition(rng: Rng, split: Split): Sample {
  const pairs = drawPairs(rng, split, 2, distinctPair, heldoutFocus(rng, split));
  const shapes = place(rng, pairs, { minDx: 20 });
  const [a, b] = rng.shuffle(shapes) as [PlacedShape, PlacedShape];
  const answer = a.cx < b.cx ? 'left' : 'right';
  const q = `Is the ${a.color} ${a.shape} to the left or right of the ${b.color} ${b.shape}?`;
  return plainSample('vqa-position', q, answer, answer === 'left' ? 'right' : 'left', scene(shapes, a), { image: renderShapes(rng, shapes) });
}

/**
 * Answer `yes` for even indices and `no` for odd ones, so any run of records is balanced. A `no` names an
 * absent pair one attribute away from a present object (the near miss a model is tempted to confirm).
 */
export function vqaExist(rng: Rng, split: Split, index: number): Sample {
  const yes = index % 2 === 0;
  const focus = heldoutFocus(rng, split);
  for (let tries = 0; tries < 200; tries++) {
    const pairs = drawPairs(rng, split, rng.int(1, 3), distinctPair, yes ? focus : undefined);
    let asked: Pair;
    if (yes) {
      asked = focus ?? rng.pick(pairs);
    } else {
      const misses = nearMisses(pairs, split);
      const candidates = focus ? misses.filter((p) => samePair(p, focus)) : misses;
      if (candidates.length === 0) continue;
      asked = rng.pick(candidates);
    }
    const shapes = place(rng, pairs);
    const q = `Is there ${withArticle(asked.color, asked.shape)} in the image?`;
    return plainSample('vqa-exist', q, yes ? 'yes' : 'no', yes ? 'no' : 'yes', scene(shapes, asked), { image: renderShapes(rng, shapes) });
  }
  throw new Error('vqa-exist: no near-miss pair found');
}

export function ground(rng: Rng, split: Split): Sample {
  const focus = heldoutFocus(rng, split);
  const pairs = drawPairs(rng, split, rng.int(1, 3), distinctPair, focus);
  const shapes = place(rng, pairs);
  const t = focus ? shapes.find((s) => samePair(s, focus))! : rng.pick(shapes);
  const box = boxPercent(t.box);
  const fmt = (b: readonly number[]) => `[${b.join(', ')}]`;
  // A wrong box: another object's, else the mirror image, else a shifted copy; IoU with the truth < 0.5.
  const candidates = [
    ...shapes.filter((s) => s !== t).map((s) => boxPercent(s.box)),
    [100 - box[2], box[1], 100 - box[0], box[3]],
    [box[0], 100 - box[3], box[2], 100 - box[1]],
    box[0] > 50 ? [box[0] - 45, box[1], box[2] - 45, box[3]] : [box[0] + 45, box[1], box[2] + 45, box[3]],
  ].map((b) => b.map((v) => Math.max(0, Math.min(100, v))));
  const wrong = candidates.find((c) => boxIoU(c, box) < 0.5) ?? [0, 0, 0, 0];
  return plainSample('ground', `Where is the ${t.color} ${t.shape}? Answer with a box.`, fmt(box), fmt(wrong), scene(shapes, t), { image: renderShapes(rng, shapes) });
}
