// The ocr task: one word of 3–6 letters A–Z or a number of 1–4 digits, dark text whose ink is 18–36 px high,
// in several system fonts, weights, positions and slight rotations. Ink height is measured with the font's
// own metrics (actualBoundingBox*), so the card's size rule holds for every font.
import type { Rng } from './prng.ts';
import { css, newCanvas, type Canvas2D } from './draw.ts';
import { IMAGE_SIZE } from './layout.ts';
import { plainSample } from './sample.ts';
import type { Sample, TextScene } from './sample.ts';
import { HELDOUT_FONTS } from './vocab.ts';
import type { Split } from './vocab.ts';

/** Latin fonts found in GlobalFonts.families on the build machine (DejaVu, Liberation, Noto). */
export const OCR_FONTS = [
  'DejaVu Sans', 'DejaVu Serif', 'DejaVu Sans Mono', 'Liberation Sans', 'Liberation Serif', 'Liberation Mono',
  'Liberation Sans Narrow', 'Noto Sans', 'Noto Serif', 'Noto Sans Display', 'Noto Serif Display',
] as const;

const WORDS = [
  'CAT', 'DOG', 'SUN', 'MAP', 'RED', 'BOX', 'KEY', 'CUP', 'TREE', 'BLUE', 'FISH', 'BIRD', 'LAMP', 'BOOK', 'DOOR',
  'MILK', 'STAR', 'MOON', 'RAIN', 'SHIP', 'HOUSE', 'GREEN', 'APPLE', 'TABLE', 'CHAIR', 'RIVER', 'PLANT', 'CLOUD',
  'TRAIN', 'LIGHT', 'WATER', 'STONE', 'ORANGE', 'PURPLE', 'YELLOW', 'WINDOW', 'GARDEN', 'PENCIL', 'BRIDGE',
  'CIRCLE', 'SQUARE', 'TESSERA', 'NUMBER',
].filter((w) => w.length <= 6);

/** Real words half the time, random letter strings or numbers otherwise, so spelling must be read, not guessed. */
export function drawText(rng: Rng): string {
  const kind = rng.int(0, 3);
  if (kind === 0) return rng.pick(WORDS);
  if (kind === 1) {
    const n = rng.int(3, 6);
    return Array.from({ length: n }, () => String.fromCharCode(65 + rng.int(0, 25))).join('');
  }
  const digits = rng.int(1, 4);
  return String(digits === 1 ? rng.int(0, 9) : rng.int(10 ** (digits - 1), 10 ** digits - 1));
}

export function ocrFonts(split: Split): readonly string[] {
  return split === 'train' ? OCR_FONTS.filter((f) => !HELDOUT_FONTS.includes(f)) : OCR_FONTS;
}

export function ocr(rng: Rng, split: Split): Sample {
  const { canvas, scene } = drawOcr(rng, split);
  const wrong = mutateText(rng, scene.text);
  return plainSample('ocr', 'What does the text say?', scene.text, wrong, scene, { image: canvas.finish() });
}

/**
 * Draws one ocr image (not yet finished: noise and encoding come last). The scene records where each
 * character's advance box lies along the text line (`spans`, px from the ink's left edge, before rotation)
 * and the ink box's centre in the image (`center`), so per-character positions can be labelled.
 */
export function drawOcr(rng: Rng, split: Split): { canvas: Canvas2D; scene: TextScene } {
  const text = drawText(rng);
  const font = split === 'heldout' && rng.bool(0.5) ? rng.pick(HELDOUT_FONTS) : rng.pick(ocrFonts(split));
  const weight = rng.pick(['normal', 'normal', 'bold']);
  const italic = rng.bool(0.15) ? 'italic ' : '';
  const c = newCanvas(rng);
  const ctx = c.ctx;
  const angle = rng.uniform(-7, 7) * (Math.PI / 180);
  // Half a pixel of margin on each side of 18–36: measured ink lands within ±0.3 px of the target.
  let target = rng.uniform(18.5, 35.5);
  // Shrink the ink height until the rotated text fits with a 4 px margin (never below 18 px).
  let size = 0;
  let m = { width: 0, left: 0, ascent: 0, descent: 0 };
  for (;;) {
    ctx.textAlign = 'left';
    ctx.font = `${italic}${weight} 40px "${font}"`;
    const probe = ctx.measureText(text);
    const ink40 = probe.actualBoundingBoxAscent + probe.actualBoundingBoxDescent;
    size = (40 * target) / ink40;
    // Glyph metrics do not scale exactly linearly (hinting), so correct the size on the real measurement.
    let mm = probe;
    for (let k = 0; k < 3; k++) {
      ctx.font = `${italic}${weight} ${size.toFixed(2)}px "${font}"`;
      mm = ctx.measureText(text);
      size *= target / (mm.actualBoundingBoxAscent + mm.actualBoundingBoxDescent);
    }
    ctx.font = `${italic}${weight} ${size.toFixed(2)}px "${font}"`;
    mm = ctx.measureText(text);
    // Skia reports whole-pixel ink boxes; step into the card's range when rounding pushed us out.
    for (let k = 0; k < 40; k++) {
      const hh = mm.actualBoundingBoxAscent + mm.actualBoundingBoxDescent;
      if (hh >= 18 && hh <= 36) break;
      size *= hh > 36 ? 0.98 : 1.02;
      ctx.font = `${italic}${weight} ${size.toFixed(2)}px "${font}"`;
      mm = ctx.measureText(text);
    }
    m = { width: mm.actualBoundingBoxLeft + mm.actualBoundingBoxRight, left: mm.actualBoundingBoxLeft, ascent: mm.actualBoundingBoxAscent, descent: mm.actualBoundingBoxDescent };
    const h = m.ascent + m.descent;
    const rotW = Math.abs(m.width * Math.cos(angle)) + Math.abs(h * Math.sin(angle));
    if (rotW <= IMAGE_SIZE - 8 || target <= 18.5) break;
    target = Math.max(18.5, target - 1);
  }
  const h = m.ascent + m.descent;
  const rotW = Math.abs(m.width * Math.cos(angle)) + Math.abs(h * Math.sin(angle));
  const rotH = Math.abs(m.width * Math.sin(angle)) + Math.abs(h * Math.cos(angle));
  const cx = IMAGE_SIZE / 2 + rng.uniform(-1, 1) * Math.max(0, (IMAGE_SIZE - 8 - rotW) / 2);
  const cy = IMAGE_SIZE / 2 + rng.uniform(-1, 1) * Math.max(0, (IMAGE_SIZE - 8 - rotH) / 2);
  const v = rng.int(0, 80);
  ctx.fillStyle = css([v + rng.int(0, 25), v + rng.int(0, 25), v + rng.int(0, 25)]);
  ctx.translate(cx, cy);
  ctx.rotate(angle);
  ctx.textBaseline = 'alphabetic';
  // Centre the ink box (not the advance box) on (cx, cy).
  ctx.fillText(text, m.left - m.width / 2, (m.ascent - m.descent) / 2);
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  const r1 = (x: number) => Math.round(x * 10) / 10;
  // advance of each prefix, shifted so 0 is the ink's left edge
  const advance = (k: number) => (k === 0 ? 0 : ctx.measureText(text.slice(0, k)).width) - m.left;
  const spans = Array.from(text, (_, k) => [r1(advance(k)), r1(Math.min(advance(k + 1), m.width))] as const);
  return { canvas: c, scene: { kind: 'text', text, font, weight: `${italic}${weight}`, height: r1(h), angle, center: [r1(cx), r1(cy)], inkWidth: r1(m.width), spans } };
}

/** One character changed: the near-miss reading used as the rejected answer. */
function mutateText(rng: Rng, text: string): string {
  const i = rng.int(0, text.length - 1);
  const isDigit = /\d/.test(text[i]!);
  let ch = text[i]!;
  while (ch === text[i]) ch = isDigit ? String(rng.int(0, 9)) : String.fromCharCode(65 + rng.int(0, 25));
  return text.slice(0, i) + ch + text.slice(i + 1);
}
