// Placing shapes on the 128x128 canvas: sizes 14–40 px across, fully inside, bounding boxes apart. The
// placed list is the generator's own record of the scene; answers are computed from it, and tests re-check it.
import type { Rng } from './prng.ts';
import type { Pair } from './vocab.ts';

export const IMAGE_SIZE = 128;
export const MIN_SIZE = 14;
export const MAX_SIZE = 40;
const BORDER = 2; // px kept free at the edge so anti-aliasing never touches it
const GAP = 3; // px between bounding boxes

/** [x1, y1, x2, y2] in pixels. */
export type Box = readonly [number, number, number, number];

export interface PlacedShape extends Pair {
  readonly cx: number;
  readonly cy: number;
  /** Width across in px (circle diameter, square side, triangle base). */
  readonly size: number;
  readonly box: Box;
}

/** A triangle is equilateral-ish: base `size`, height size·√3/2, pointing up. */
export function shapeBox(shape: Pair['shape'], cx: number, cy: number, size: number): Box {
  const h = shape === 'triangle' ? (size * Math.sqrt(3)) / 2 : size;
  return [cx - size / 2, cy - h / 2, cx + size / 2, cy + h / 2];
}

export function boxesOverlap(a: Box, b: Box, gap = 0): boolean {
  return a[0] < b[2] + gap && b[0] < a[2] + gap && a[1] < b[3] + gap && b[1] < a[3] + gap;
}

export interface PlaceOptions {
  /** Minimum distance between any two centers in x (vqa-position asks for 20 px). */
  readonly minDx?: number;
  readonly minSize?: number;
  readonly maxSize?: number;
}

/**
 * Places the pairs in order; returns null when a random layout cannot be found (the caller redraws).
 * Sizes shrink with crowding so six shapes still fit.
 */
export function placeShapes(rng: Rng, pairs: readonly Pair[], opts: PlaceOptions = {}): PlacedShape[] | null {
  const crowdMax = pairs.length > 3 ? 30 : MAX_SIZE;
  const lo = opts.minSize ?? MIN_SIZE;
  const hi = Math.min(opts.maxSize ?? MAX_SIZE, crowdMax);
  const placed: PlacedShape[] = [];
  for (const pair of pairs) {
    let ok = false;
    for (let attempt = 0; attempt < 200 && !ok; attempt++) {
      const size = rng.int(lo, hi);
      const half = size / 2;
      const cx = rng.uniform(BORDER + half, IMAGE_SIZE - BORDER - half);
      const cy = rng.uniform(BORDER + half, IMAGE_SIZE - BORDER - half);
      const box = shapeBox(pair.shape, cx, cy, size);
      if (placed.some((p) => boxesOverlap(p.box, box, GAP))) continue;
      if (opts.minDx !== undefined && placed.some((p) => Math.abs(p.cx - cx) < opts.minDx!)) continue;
      placed.push({ ...pair, cx, cy, size, box });
      ok = true;
    }
    if (!ok) return null;
  }
  return placed;
}

/** Like placeShapes but retries whole layouts; throws only if the request is impossible in practice. */
export function placeShapesOrThrow(rng: Rng, pairs: readonly Pair[], opts: PlaceOptions = {}): PlacedShape[] {
  for (let tries = 0; tries < 50; tries++) {
    const placed = placeShapes(rng, pairs, opts);
    if (placed) return placed;
  }
  throw new Error(`placeShapes: could not place ${pairs.length} shapes without overlap`);
}

/** Problems with a layout (empty when it follows the card): used by tests and as a generator self-check. */
export function layoutProblems(shapes: readonly PlacedShape[]): string[] {
  const out: string[] = [];
  shapes.forEach((s, i) => {
    if (s.size < MIN_SIZE || s.size > MAX_SIZE) out.push(`shape ${i}: size ${s.size} outside ${MIN_SIZE}–${MAX_SIZE}`);
    const [x1, y1, x2, y2] = s.box;
    if (x1 < 0 || y1 < 0 || x2 > IMAGE_SIZE || y2 > IMAGE_SIZE) out.push(`shape ${i}: box [${s.box.join(', ')}] leaves the image`);
    for (let j = 0; j < i; j++) if (boxesOverlap(shapes[j]!.box, s.box)) out.push(`shapes ${j} and ${i} overlap`);
  });
  return out;
}

/** The card's `ground` answer: bounding box in integer percent of width/height. */
export function boxPercent(box: Box): [number, number, number, number] {
  const pct = (v: number) => Math.max(0, Math.min(100, Math.round((v / IMAGE_SIZE) * 100)));
  return [pct(box[0]), pct(box[1]), pct(box[2]), pct(box[3])];
}
