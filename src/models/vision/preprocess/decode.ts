// Image decoding: PNG / JPEG / WebP (anything libvips reads) to 8-bit RGB, height-width-channel,
// with `sharp`. The target is what Hugging Face processors see: PIL `Image.open(f).convert('RGB')`,
// which drops alpha (no compositing), repeats grey into three channels, ignores embedded ICC
// profiles and EXIF orientation. sharp is told to do the same (ignoreIcc, no autoOrient). Plain 8-bit PNGs take
// a faster path with the same pixels (png.ts).
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { decodeSimplePng } from './png.ts';

/** An 8-bit RGB image, rows top to bottom, `data[(y * width + x) * 3 + c]`. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface DecodeOptions {
  /** Refuse images with more pixels than this (decompression bombs). Default: PIL's MAX_IMAGE_PIXELS. */
  maxPixels?: number;
}

/** PIL.Image.MAX_IMAGE_PIXELS: above it PIL warns, above twice it refuses. */
export const defaultMaxPixels = 89_478_485;

/** Wrap a raw RGB buffer, checking its size. */
export function rgbImage(width: number, height: number, data: Uint8Array): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`image: bad size ${width}x${height}`);
  }
  if (data.length !== width * height * 3) {
    throw new Error(`image: ${width}x${height} RGB needs ${width * height * 3} bytes, got ${data.length}`);
  }
  return { width, height, data };
}

/**
 * Decode image bytes (or a file path) to RGB.
 * @example const img = await decodeImage('cat.png'); img.data.length === img.width * img.height * 3
 */
export async function decodeImage(input: Uint8Array | string, options: DecodeOptions = {}): Promise<RgbImage> {
  const name = typeof input === 'string' ? input : '<bytes>';
  let bytes: Uint8Array;
  if (typeof input === 'string') {
    try {
      bytes = await readFile(input);
    } catch (e) {
      throw new Error(`image: cannot read ${input}: ${(e as Error).message}`);
    }
  } else {
    bytes = input;
  }
  if (bytes.length === 0) throw new Error(`image: ${name} is empty`);
  const maxPixels = options.maxPixels ?? defaultMaxPixels;
  const png = decodeSimplePng(bytes, maxPixels);
  if (png) return png;

  let raw: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    const img = sharp(bytes, { limitInputPixels: maxPixels, ignoreIcc: true, failOn: 'error', autoOrient: false });
    const meta = await img.metadata();
    if (meta.width === undefined || meta.height === undefined) throw new Error('no dimensions');
    if (meta.width * meta.height > maxPixels) {
      throw new Error(`${meta.width}x${meta.height} has more than ${maxPixels} pixels`);
    }
    raw = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new Error(`image: cannot decode ${name}: ${(e as Error).message}`);
  }

  const { width, height, channels } = raw.info;
  const src = raw.data;
  const out = new Uint8Array(width * height * 3);
  const n = width * height;
  if (channels >= 3) {
    // RGB or RGBA: alpha is dropped, as PIL's convert('RGB') does.
    for (let i = 0; i < n; i++) {
      out[i * 3] = src[i * channels]!;
      out[i * 3 + 1] = src[i * channels + 1]!;
      out[i * 3 + 2] = src[i * channels + 2]!;
    }
  } else if (channels === 1 || channels === 2) {
    // Grey or grey + alpha: grey repeated.
    for (let i = 0; i < n; i++) {
      const g = src[i * channels]!;
      out[i * 3] = g;
      out[i * 3 + 1] = g;
      out[i * 3 + 2] = g;
    }
  } else {
    throw new Error(`image: ${name} has ${channels} channels`);
  }
  return rgbImage(width, height, out);
}
