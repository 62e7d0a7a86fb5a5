// The PNG fast path gives sharp's pixels (as decodeImage converts them, PIL convert('RGB')) for every filter
// type and 8-bit colour type, and hands everything else to sharp: other bit depths, interlacing, bad checksums,
// truncated streams, palette indices past the palette.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { decodeImage } from './decode.ts';
import { chunk } from '../../../data/synthetic/png.ts';
import { decodeSimplePng } from './png.ts';

/** A PNG of `px` (rows of `channels` samples), row y filtered with filters[y % filters.length]. */
function encodePng(o: { width: number; height: number; colorType: number; channels: number; px: Uint8Array; filters: number[];
  palette?: Uint8Array; depth?: number; interlace?: number }): Buffer {
  const stride = o.width * o.channels, bpp = o.channels;
  const raw = new Uint8Array(o.height * (stride + 1));
  for (let y = 0; y < o.height; y++) {
    const f = o.filters[y % o.filters.length]!;
    raw[y * (stride + 1)] = f;
    for (let i = 0; i < stride; i++) {
      const x = o.px[y * stride + i]!;
      const a = i >= bpp ? o.px[y * stride + i - bpp]! : 0, b = y ? o.px[(y - 1) * stride + i]! : 0;
      const c = y && i >= bpp ? o.px[(y - 1) * stride + i - bpp]! : 0;
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      const pred = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][f]!;
      raw[y * (stride + 1) + 1 + i] = (x - pred) & 255;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(o.width, 0);
  ihdr.writeUInt32BE(o.height, 4);
  ihdr.set([o.depth ?? 8, o.colorType, 0, 0, o.interlace ?? 0], 8);
  const z = deflateSync(raw);
  // the image data split over two IDAT chunks, as encoders may
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), ...(o.palette ? [chunk('PLTE', o.palette)] : []),
    chunk('tEXt', Buffer.from('Comment\0made by png.test.ts')), chunk('IDAT', z.subarray(0, z.length >> 1)), chunk('IDAT', z.subarray(z.length >> 1)),
    chunk('IEND', new Uint8Array(0))]);
}

/** What decodeImage's sharp path makes of `bytes`: alpha dropped, grey repeated. */
async function viaSharp(bytes: Uint8Array): Promise<number[]> {
  const { data, info } = await sharp(bytes, { ignoreIcc: true }).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const out: number[] = [];
  for (let i = 0; i < info.width * info.height; i++) {
    for (let c = 0; c < 3; c++) out.push(data[i * info.channels + (info.channels >= 3 ? c : 0)]!);
  }
  return out;
}

let seed = 7;
const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 8) & 255;

test('every 8-bit colour type and filter type decodes to the pixels sharp gives', async () => {
  const width = 13, height = 10; // odd width: rows not a multiple of any word
  for (const [colorType, channels] of [[0, 1], [2, 3], [3, 1], [4, 2], [6, 4]] as const) {
    const palette = colorType === 3 ? Uint8Array.from({ length: 3 * 20 }, random) : undefined;
    const px = Uint8Array.from({ length: width * height * channels }, () => (colorType === 3 ? random() % 20 : random()));
    for (const filters of [[0], [1], [2], [3], [4], [4, 3, 2, 1, 0]]) {
      const png = encodePng({ width, height, colorType, channels, px, filters, ...(palette ? { palette } : {}) });
      const fast = decodeSimplePng(png, 1e9);
      assert.ok(fast, `colour type ${colorType}, filters ${filters}: not taken by the fast path`);
      assert.equal(fast.width, width);
      assert.equal(fast.height, height);
      assert.deepEqual(Array.from(fast.data), await viaSharp(png), `colour type ${colorType}, filters ${filters}`);
      assert.deepEqual(await decodeImage(png), fast);
    }
  }
});

test('PNGs the fast path does not take go to sharp, which decodes them or names the fault', async () => {
  const px = Uint8Array.from({ length: 8 * 8 * 3 }, random);
  const good = encodePng({ width: 8, height: 8, colorType: 2, channels: 3, px, filters: [1] });
  assert.ok(decodeSimplePng(good, 1e9));
  // 16-bit samples and interlacing: decoded by sharp
  const sixteen = await sharp(Buffer.from(px), { raw: { width: 8, height: 8, channels: 3 } }).png().toColourspace('rgb16').toBuffer();
  assert.equal(sixteen[24], 16, 'a 16-bit PNG');
  assert.equal(decodeSimplePng(sixteen, 1e9), null);
  assert.equal((await decodeImage(sixteen)).data.length, 8 * 8 * 3);
  const interlaced = await sharp(Buffer.from(px), { raw: { width: 8, height: 8, channels: 3 } }).png({ progressive: true }).toBuffer();
  assert.equal(interlaced[28], 1, 'an interlaced PNG');
  assert.equal(decodeSimplePng(interlaced, 1e9), null);
  assert.deepEqual(Array.from((await decodeImage(interlaced)).data), Array.from(px));
  // a flipped byte inside the image data: its chunk's checksum fails
  const flipped = Buffer.from(good);
  flipped[flipped.indexOf('IDAT') + 6]! ^= 1;
  assert.equal(decodeSimplePng(flipped, 1e9), null);
  // cut short, too many pixels, a palette index past the palette
  assert.equal(decodeSimplePng(good.subarray(0, good.length - 20), 1e9), null);
  await assert.rejects(decodeImage(good.subarray(0, good.length - 20)), /cannot decode/);
  assert.equal(decodeSimplePng(good, 63), null);
  await assert.rejects(decodeImage(good, { maxPixels: 63 }), /cannot decode/);
  const indexed = encodePng({ width: 2, height: 1, colorType: 3, channels: 1, px: Uint8Array.from([0, 5]), filters: [0], palette: Uint8Array.from([1, 2, 3, 4, 5, 6]) });
  assert.equal(decodeSimplePng(indexed, 1e9), null);
});
