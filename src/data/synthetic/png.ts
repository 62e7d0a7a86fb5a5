// A minimal RGB PNG writer (PNG spec, ISO/IEC 15948: IHDR, one zlib IDAT, IEND; filter type 1 "Sub" on every
// row) and the matching header reader. Our own writer keeps the bytes fixed by us alone (canvas' encoder would
// also write alpha), and the card asks for RGB.
import { deflateSync } from 'node:zlib';
import { crc32 } from '../../models/vision/preprocess/png.ts';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** One PNG chunk: length, type, data, CRC of type and data. */
export function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out, 4, 8 + data.length), 8 + data.length);
  return out;
}

/** Encodes RGBA pixels (alpha ignored: the image is composited on an opaque background) as an RGB PNG. */
export function encodeRgbPng(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): Buffer {
  if (rgba.length !== width * height * 4) throw new Error(`encodeRgbPng: ${rgba.length} bytes for ${width}x${height} RGBA`);
  const stride = width * 3;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (stride + 1);
    raw[row] = 1; // Sub: each byte minus the byte one pixel to the left
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const v = rgba[(y * width + x) * 4 + c]!;
        const left = x > 0 ? rgba[(y * width + x - 1) * 4 + c]! : 0;
        raw[row + 1 + x * 3 + c] = (v - left) & 0xff;
      }
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // color type: truecolor RGB
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', new Uint8Array(0))]);
}

export interface PngHeader {
  readonly width: number;
  readonly height: number;
  readonly bitDepth: number;
  /** 2 = RGB, 6 = RGBA, 0 = gray … */
  readonly colorType: number;
}

export function readPngHeader(buf: Uint8Array, name = 'PNG'): PngHeader {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 33 || !b.subarray(0, 8).equals(SIGNATURE)) throw new Error(`${name}: not a PNG file`);
  if (b.toString('ascii', 12, 16) !== 'IHDR') throw new Error(`${name}: first chunk is not IHDR`);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20), bitDepth: b[24]!, colorType: b[25]! };
}
