// Image decoding, PIL-exact bicubic resize and the CLIP/SigLIP processors against
// fixtures/hf/image-processors (transformers 5.17 PIL backends, Pillow 12.3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { hfFixture } from '../../../util/paths.ts';
import { decodeImage, rgbImage } from './decode.ts';
import { resizeRgb } from './resize.ts';
import { ClipImageProcessor, SiglipImageProcessor, type ImageProcessor } from './processors.ts';

// Minimal safetensors reader for the fixture (F32 and I64 only), so this test stands alone.
function readTensors(path: string): Map<string, { shape: number[]; data: Float64Array }> {
  const buf = readFileSync(path);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const base = 8 + headerLen;
  const out = new Map<string, { shape: number[]; data: Float64Array }>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const bytes = buf.subarray(base + t.data_offsets[0], base + t.data_offsets[1]);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const width = t.dtype === 'F32' ? 4 : 8;
    const data = new Float64Array(bytes.byteLength / width);
    for (let i = 0; i < data.length; i++) data[i] = t.dtype === 'F32' ? dv.getFloat32(i * 4, true) : Number(dv.getBigInt64(i * 8, true));
    out.set(name, { shape: t.shape, data });
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const dir = hfFixture('image-processors');
const io = dir === null ? null : readTensors(join(dir, 'io.safetensors'));
const tensor = (name: string): { shape: number[]; data: Float64Array } => {
  const t = io!.get(name);
  assert.ok(t !== undefined, `io.safetensors has no ${name}`);
  return t;
};

test('decodeImage gives the PNG pixels PIL gives', { skip: dir === null }, async () => {
  const img = await decodeImage(join(dir!, 'image.png'));
  const ref = tensor('image_uint8_hwc');
  assert.deepEqual([img.height, img.width, 3], ref.shape);
  assert.equal(maxAbsDiff(img.data, ref.data), 0);
});

test('bicubic resize equals PIL Image.resize(BICUBIC) byte for byte', { skip: dir === null }, async () => {
  const img = await decodeImage(join(dir!, 'image.png'));
  for (const name of ['pil_bicubic_resize_clip_uint8', 'pil_bicubic_resize_siglip_uint8']) {
    const ref = tensor(name);
    const [h, w] = ref.shape as [number, number];
    const out = resizeRgb(img, w, h);
    const diff = maxAbsDiff(out.data, ref.data);
    console.log(`${name}: maxdiff ${diff}`);
    assert.equal(diff, 0, name);
  }
});

const cases: Array<[string, string, (json: unknown) => ImageProcessor]> = [
  ['clip', 'clip_pil', (j) => ClipImageProcessor.fromConfig(j)],
  ['siglip', 'siglip_pil', (j) => SiglipImageProcessor.fromConfig(j)],
];
for (const [name, folder, make] of cases) {
  test(`${name} processor matches the ${folder} pixel values within 1e-5`, { skip: dir === null }, async () => {
    const proc = make(JSON.parse(readFileSync(join(dir!, folder, 'preprocessor_config.json'), 'utf8')));
    const pv = proc.process([await decodeImage(join(dir!, 'image.png'))]);
    const ref = tensor(`${name}_pil_pixel_values`);
    assert.deepEqual(pv.shape, ref.shape);
    const diff = maxAbsDiff(pv.data, ref.data);
    const tv = maxAbsDiff(pv.data, tensor(`${name}_torchvision_pixel_values`).data);
    console.log(`${name}: maxdiff vs PIL backend ${diff.toExponential(2)}, vs torchvision backend ${tv.toFixed(4)}`);
    assert.ok(diff <= 1e-5, `${name} maxdiff ${diff}`);
  });
}

test('grey and RGBA images become RGB the way PIL convert("RGB") does', async () => {
  const grey = await sharp(Buffer.from([0, 100, 200, 255]), { raw: { width: 2, height: 2, channels: 1 } }).png().toBuffer();
  assert.deepEqual(Array.from((await decodeImage(grey)).data), [0, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255]);
  const rgba = await sharp(Buffer.from([10, 20, 30, 0, 40, 50, 60, 128]), { raw: { width: 2, height: 1, channels: 4 } }).png().toBuffer();
  assert.deepEqual(Array.from((await decodeImage(rgba)).data), [10, 20, 30, 40, 50, 60]); // alpha dropped, not composited
});

test('corrupt, empty and oversized images are refused with a clear error', async () => {
  await assert.rejects(decodeImage(new Uint8Array(0)), /is empty/);
  await assert.rejects(decodeImage(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3])), /cannot decode <bytes>/);
  await assert.rejects(decodeImage('/nonexistent.png'), /cannot read/);
  const big = await sharp({ create: { width: 100, height: 100, channels: 3, background: '#000' } }).png().toBuffer();
  await assert.rejects(decodeImage(big, { maxPixels: 5000 }), /cannot decode/);
  assert.throws(() => rgbImage(2, 2, new Uint8Array(5)), /needs 12 bytes/);
  assert.throws(() => ClipImageProcessor.fromConfig({ resample: 1 }), /resample 1 is not supported/);
  assert.throws(() => ClipImageProcessor.fromConfig({ size: { foo: 3 } }), /size needs shortest_edge/);
});

test('resize keeps a constant image constant and handles upscaling', () => {
  const img = rgbImage(5, 3, new Uint8Array(45).fill(77));
  for (const [w, h] of [[2, 2], [11, 7], [5, 9]] as const) {
    const out = resizeRgb(img, w, h);
    assert.ok(out.data.every((v) => v === 77), `${w}x${h}`);
  }
});
