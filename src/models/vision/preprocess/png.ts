// A fast path for the PNGs tessera reads most: 8-bit, non-interlaced grey / RGB / grey+alpha / RGBA / palette
// images (what the synthetic data, canvas and most tools write), decoded here with node's zlib instead of
// through sharp. sharp pays two trips through libvips per image (metadata, then pixels): ~2.7 ms for a 128 px
// PNG read and decoded one at a time, where inflating and unfiltering it here takes 0.14 ms once warm, and a demo
// stage decodes tens of thousands of them.
//
// Anything else — 16-bit or sub-byte samples, interlacing, a bad checksum, a stream that does not inflate to
// exactly the rows it should — returns null and goes to sharp, which decodes it or names what is wrong. The
// pixels are the same as sharp's and PIL's `convert('RGB')` (alpha dropped, grey repeated, palette looked up,
// gamma and ICC chunks ignored): a test compares them on every filter type and colour type.

import { inflateSync } from 'node:zlib';
import type { RgbImage } from './decode.ts';

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

/** Samples per pixel of each 8-bit colour type (PNG spec 11.2.2). */
const CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of b[from, to) as PNG chunks carry it (also used by the synthetic data's PNG writer). */
export function crc32(b: Uint8Array, from: number, to: number): number {
  let c = 0xffffffff;
  for (let i = from; i < to; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The image when `bytes` is a PNG of the simple kinds above that decodes cleanly, else null (use sharp). */
export function decodeSimplePng(bytes: Uint8Array, maxPixels: number): RgbImage | null {
  if (bytes.length < 8 || SIGNATURE.some((v, i) => bytes[i] !== v)) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width = 0, height = 0, colorType = -1, palette: Uint8Array | null = null, ended = false;
  const idat: Uint8Array[] = [];
  for (let at = 8; at < bytes.length;) {
    if (at + 12 > bytes.length) return null;
    const len = view.getUint32(at);
    const end = at + 8 + len;
    if (end + 4 > bytes.length) return null;
    if (crc32(bytes, at + 4, end) !== view.getUint32(end)) return null;
    const type = String.fromCharCode(bytes[at + 4]!, bytes[at + 5]!, bytes[at + 6]!, bytes[at + 7]!);
    const data = bytes.subarray(at + 8, end);
    if (type === 'IHDR') {
      if (len !== 13 || width) return null;
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      const [depth, ct, compression, filter, interlace] = data.subarray(8, 13);
      if (depth !== 8 || CHANNELS[ct!] === undefined || compression !== 0 || filter !== 0 || interlace !== 0) return null;
      colorType = ct!;
    } else if (!width) {
      return null; // IHDR must come first
    } else if (type === 'PLTE') {
      if (len % 3 !== 0 || len === 0) return null;
      palette = data;
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      ended = true;
      break;
    } else if ((bytes[at + 4]! & 0x20) === 0) {
      return null; // an unknown critical chunk
    }
    at = end + 4;
  }
  if (!ended || !width || !height || width * height > maxPixels || !idat.length) return null;
  if (colorType === 3 && !palette) return null;
  const channels = CHANNELS[colorType]!;
  const stride = width * channels;
  let raw: Buffer;
  try {
    raw = inflateSync(idat.length === 1 ? idat[0]! : Buffer.concat(idat));
  } catch {
    return null;
  }
  if (raw.length !== height * (stride + 1)) return null;
  const rows = unfilter(raw, height, stride, channels);
  if (!rows) return null;
  const data = toRgb(rows, width * height, colorType, palette);
  return data && { width, height, data };
}

/** Reverses the per-row filters (PNG spec 9) in place; returns the rows without their filter bytes. */
function unfilter(raw: Uint8Array, height: number, stride: number, bpp: number): Uint8Array | null {
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1, row = y * stride, up = row - stride;
    switch (filter) {
      case 0:
        out.set(raw.subarray(src, src + stride), row);
        break;
      case 1:
        for (let i = 0; i < stride; i++) out[row + i] = raw[src + i]! + (i >= bpp ? out[row + i - bpp]! : 0);
        break;
      case 2:
        for (let i = 0; i < stride; i++) out[row + i] = raw[src + i]! + (y ? out[up + i]! : 0);
        break;
      case 3:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? out[row + i - bpp]! : 0, b = y ? out[up + i]! : 0;
          out[row + i] = raw[src + i]! + ((a + b) >> 1);
        }
        break;
      case 4:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? out[row + i - bpp]! : 0, b = y ? out[up + i]! : 0, c = y && i >= bpp ? out[up + i - bpp]! : 0;
          const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
          out[row + i] = raw[src + i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
        }
        break;
      default:
        return null;
    }
  }
  return out;
}

/** Unfiltered samples → RGB: alpha dropped, grey repeated, palette indices looked up (null for one past its end). */
function toRgb(px: Uint8Array, n: number, colorType: number, palette: Uint8Array | null): Uint8Array | null {
  if (colorType === 2) return px;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    let r: number, g: number, b: number;
    if (colorType === 6) { r = px[i * 4]!; g = px[i * 4 + 1]!; b = px[i * 4 + 2]!; }
    else if (colorType === 0) r = g = b = px[i]!;
    else if (colorType === 4) r = g = b = px[i * 2]!;
    else {
      const k = px[i]! * 3;
      if (k >= palette!.length) return null;
      r = palette![k]!; g = palette![k + 1]!; b = palette![k + 2]!;
    }
    out[i * 3] = r; out[i * 3 + 1] = g; out[i * 3 + 2] = b;
  }
  return out;
}
