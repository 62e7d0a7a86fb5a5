// Tests for the float16/bfloat16 conversions in dtype.ts against bit patterns computed with torch
// (`torch.tensor(bits).view(torch.float32).half().view(torch.int16)`, printed by
// scripts/dump_safetensors_fixtures.py): round to nearest even, subnormals, overflow, inf and NaN. Plus an
// exhaustive 16-bit round trip and a seeded comparison with an independent rounding written in float64.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, toFloat32 } from './dtype.ts';

const f32Bits = [
  0x0, 0x80000000, 0x3f800000, 0x3f801000, 0x3f803000, 0x3f801001, 0x3f800fff, 0x477fe000, 0x477fefff, 0x477ff000,
  0x4b189680, 0x33800000, 0x33000000, 0x33000001, 0x33c00000, 0x38800000, 0x387fc000, 0x387fe000, 0x1, 0x807fffff,
  0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0x3f808000, 0x3f818000, 0x3f808001, 0x3f807fff,
  0x7f7f8000, 0x40490fdb, 0xc2f6e979,
];
const torchF16 = [
  0x0, 0x8000, 0x3c00, 0x3c00, 0x3c02, 0x3c01, 0x3c00, 0x7bff, 0x7bff, 0x7c00, 0x7c00, 0x1, 0x0, 0x1, 0x2, 0x400,
  0x3ff, 0x400, 0x0, 0x8000, 0x7c00, 0xfc00, 0x7c00, 0xfc00, 0x7e00, 0x3c04, 0x3c0c, 0x3c04, 0x3c04, 0x7c00, 0x4248,
  0xd7b7,
];
// torch's vectorized CPU path turns NaN into 0xffff; any NaN pattern is accepted for that entry (index 24).
const torchBf16 = [
  0x0, 0x8000, 0x3f80, 0x3f80, 0x3f80, 0x3f80, 0x3f80, 0x4780, 0x4780, 0x4780, 0x4b19, 0x3380, 0x3300, 0x3300, 0x33c0,
  0x3880, 0x3880, 0x3880, 0x0, 0x8080, 0x7f80, 0xff80, 0x7f80, 0xff80, 0xffff, 0x3f80, 0x3f82, 0x3f81, 0x3f80, 0x7f80,
  0x4049, 0xc2f7,
];
const f16In = [0x0, 0x8000, 0x1, 0x3ff, 0x400, 0x3c00, 0x3555, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00, 0x8001, 0xc248];
const torchF16AsF32 = [
  0x0, 0x80000000, 0x33800000, 0x387fc000, 0x38800000, 0x3f800000, 0x3eaaa000, 0x477fe000, 0xc77fe000, 0x7f800000,
  0xff800000, 0x7fffffff, 0xb3800000, 0xc0490000,
];

const asF32 = (bits: number): number => new Float32Array(Uint32Array.of(bits).buffer)[0]!;
const bitsOf = (x: number): number => new Uint32Array(Float32Array.of(x).buffer)[0]!;
const hex = (v: number) => `0x${v.toString(16)}`;
const isNaN16 = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
const isNaNBf16 = (h: number) => (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;

test('f32ToF16 matches torch bit for bit (ties to even, subnormals, overflow, inf, nan)', () => {
  f32Bits.forEach((b, i) => assert.equal(hex(f32ToF16(asF32(b))), hex(torchF16[i]!), `input ${hex(b)}`));
});

test('f32ToBf16 matches torch bit for bit', () => {
  f32Bits.forEach((b, i) => {
    const got = f32ToBf16(asF32(b));
    if (isNaNBf16(torchBf16[i]!)) assert.ok(isNaNBf16(got), `input ${hex(b)} gave ${hex(got)}`);
    else assert.equal(hex(got), hex(torchBf16[i]!), `input ${hex(b)}`);
  });
});

test('f16ToF32 matches torch, including subnormals and -0', () => {
  f16In.forEach((h, i) => {
    const want = asF32(torchF16AsF32[i]!);
    if (Number.isNaN(want)) assert.ok(Number.isNaN(f16ToF32(h)));
    else assert.equal(hex(bitsOf(f16ToF32(h))), hex(torchF16AsF32[i]!), `input ${hex(h)}`);
  });
});

test('every float16 and bfloat16 pattern survives a round trip through float32', () => {
  for (let h = 0; h < 0x10000; h++) {
    if (!isNaN16(h)) assert.equal(f32ToF16(f16ToF32(h)), h, hex(h));
    else assert.ok(isNaN16(f32ToF16(f16ToF32(h))), hex(h));
    if (!isNaNBf16(h)) assert.equal(f32ToBf16(bf16ToF32(h)), h, hex(h));
    else assert.ok(isNaNBf16(f32ToBf16(bf16ToF32(h))), hex(h));
  }
});

/** Nearest float16 of a float32 value, computed in float64 with an explicit ties-to-even rule. */
function referenceF16(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (Number.isNaN(x)) return 0x7e00;
  if (a >= 65520) return sign | 0x7c00; // 65520 is the tie between 65504 and 2^16, which rounds to even: inf
  const e = Math.max(Math.floor(Math.log2(a || 1)), -14);
  const q = 2 ** (e - 10); // spacing of float16 values in this binade (subnormal spacing below 2^-14)
  let m = a / q; // exact: a float32 divided by a power of two
  const fl = Math.floor(m);
  m = m - fl > 0.5 || (m - fl === 0.5 && fl % 2 === 1) ? fl + 1 : fl;
  const v = m * q;
  if (v === 0) return sign;
  const ve = Math.max(Math.floor(Math.log2(v)), -14);
  return sign | (v < 2 ** -14 ? v / 2 ** -24 : ((ve + 15) << 10) | (v / 2 ** (ve - 10) - 1024));
}

test('f32ToF16 agrees with an independent float64 rounding on 200k seeded float32 values', () => {
  let seed = 7;
  const next = () => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed; };
  for (let i = 0; i < 200_000; i++) {
    // Exponents concentrated around the float16 range so normals, subnormals and overflow are all hit.
    const bits = ((next() & 0x80000000) | (((100 + (next() % 60)) << 23) >>> 0) | (next() & 0x7fffff)) >>> 0;
    const x = asF32(bits);
    assert.equal(hex(f32ToF16(x)), hex(referenceF16(x)), `input ${hex(bits)}`);
  }
});

test('toFloat32 converts every storage type', () => {
  assert.deepEqual([...toFloat32('float16', Uint16Array.of(0x3c00, 0xc000))], [1, -2]);
  assert.deepEqual([...toFloat32('bfloat16', Uint16Array.of(0x3f80, 0x4049))], [1, 3.140625]);
  assert.deepEqual([...toFloat32('int64', BigInt64Array.of(-5n, 2n ** 40n))], [-5, 2 ** 40]);
  assert.deepEqual([...toFloat32('bool', Uint8Array.of(1, 0))], [1, 0]);
  assert.deepEqual([...toFloat32('float64', Float64Array.of(0.1))], [Math.fround(0.1)]);
});
