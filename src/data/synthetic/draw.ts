// Painting the scenes of the image tasks with @napi-rs/canvas: light backgrounds (near white, pale tint or
// faint gradient, optional faint noise), jittered saturated fills, and the final RGB PNG. All randomness comes
// from the record's own Rng so the bytes are fixed by the seed.
import { createCanvas } from '@napi-rs/canvas';
import type { SKRSContext2D } from '@napi-rs/canvas';
import type { Rng } from './prng.ts';
import { encodeRgbPng } from './png.ts';
import { COLOR_JITTER, COLOR_RGB } from './vocab.ts';
import type { Color } from './vocab.ts';
import { IMAGE_SIZE } from './layout.ts';
import type { PlacedShape } from './layout.ts';

export type Rgb = readonly [number, number, number];

export function css(c: Rgb): string {
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

const clamp255 = (v: number) => Math.max(0, Math.min(255, Math.round(v)));

export function jitteredColor(rng: Rng, color: Color): Rgb {
  const [r, g, b] = COLOR_RGB[color];
  const j = () => rng.int(-COLOR_JITTER, COLOR_JITTER);
  return [clamp255(r + j()), clamp255(g + j()), clamp255(b + j())];
}

/** A light color: near-white gray or white mixed with a random hue at 5–18 %. */
export function lightColor(rng: Rng): Rgb {
  if (rng.bool(0.45)) {
    const v = rng.int(238, 255);
    return [clamp255(v + rng.int(-3, 3)), clamp255(v + rng.int(-3, 3)), clamp255(v + rng.int(-3, 3))];
  }
  const hue: Rgb = [rng.int(0, 255), rng.int(0, 255), rng.int(0, 255)];
  const t = rng.uniform(0.05, 0.18);
  const base = rng.int(245, 255);
  return [clamp255(base * (1 - t) + hue[0] * t), clamp255(base * (1 - t) + hue[1] * t), clamp255(base * (1 - t) + hue[2] * t)];
}

export interface Canvas2D {
  readonly ctx: SKRSContext2D;
  /** Finishes the image: optional faint noise, then RGB PNG bytes. */
  finish(): Buffer;
  /** Finishes the image as finish() does, as RGB bytes (rows top to bottom) instead of a PNG. */
  rgb(): Uint8Array;
}

/** A 128x128 canvas with a light background drawn. */
export function newCanvas(rng: Rng): Canvas2D {
  const canvas = createCanvas(IMAGE_SIZE, IMAGE_SIZE);
  const ctx = canvas.getContext('2d');
  const style = rng.int(0, 2);
  if (style === 2) {
    const angle = rng.uniform(0, Math.PI * 2);
    const dx = Math.cos(angle) * 64;
    const dy = Math.sin(angle) * 64;
    const g = ctx.createLinearGradient(64 - dx, 64 - dy, 64 + dx, 64 + dy);
    g.addColorStop(0, css(lightColor(rng)));
    g.addColorStop(1, css(lightColor(rng)));
    ctx.fillStyle = g;
  } else {
    ctx.fillStyle = css(lightColor(rng));
  }
  ctx.fillRect(0, 0, IMAGE_SIZE, IMAGE_SIZE);
  const noise = rng.bool(0.35) ? rng.uniform(1, 4) : 0;
  // the pixels after the noise, RGBA
  const pixels = (): Uint8ClampedArray => {
    const px = ctx.getImageData(0, 0, IMAGE_SIZE, IMAGE_SIZE).data;
    if (noise > 0) {
      for (let i = 0; i < px.length; i += 4) {
        const n = rng.normal() * noise;
        px[i] = clamp255(px[i]! + n);
        px[i + 1] = clamp255(px[i + 1]! + n);
        px[i + 2] = clamp255(px[i + 2]! + n);
      }
    }
    return px;
  };
  return {
    ctx,
    finish: () => encodeRgbPng(pixels(), IMAGE_SIZE, IMAGE_SIZE),
    rgb: () => {
      const px = pixels(), out = new Uint8Array(IMAGE_SIZE * IMAGE_SIZE * 3);
      for (let i = 0, j = 0; i < px.length; i += 4, j += 3) { out[j] = px[i]!; out[j + 1] = px[i + 1]!; out[j + 2] = px[i + 2]!; }
      return out;
    },
  };
}

/** Fills one placed shape; sometimes with a darker outline of the same hue. */
export function drawShape(ctx: SKRSContext2D, rng: Rng, s: PlacedShape): void {
  const fill = jitteredColor(rng, s.color);
  ctx.fillStyle = css(fill);
  ctx.beginPath();
  const [x1, y1, x2, y2] = s.box;
  if (s.shape === 'circle') {
    ctx.arc(s.cx, s.cy, s.size / 2, 0, Math.PI * 2);
  } else if (s.shape === 'square') {
    ctx.rect(x1, y1, x2 - x1, y2 - y1);
  } else {
    ctx.moveTo(s.cx, y1);
    ctx.lineTo(x2, y2);
    ctx.lineTo(x1, y2);
    ctx.closePath();
  }
  ctx.fill();
  if (rng.bool(0.2)) {
    const k = rng.uniform(0.55, 0.8);
    ctx.strokeStyle = css([fill[0] * k, fill[1] * k, fill[2] * k]);
    ctx.lineWidth = rng.uniform(0.8, 1.6);
    ctx.lineJoin = 'round';
    ctx.stroke();
  }
}

/** A canvas with a scene of shapes painted: finish() gives the PNG, rgb() the pixels (images drawn in training). */
export function shapesCanvas(rng: Rng, shapes: readonly PlacedShape[]): Canvas2D {
  const c = newCanvas(rng);
  for (const s of shapes) drawShape(c.ctx, rng, s);
  return c;
}

/** A scene of shapes as PNG bytes. */
export function renderShapes(rng: Rng, shapes: readonly PlacedShape[]): Buffer {
  return shapesCanvas(rng, shapes).finish();
}
