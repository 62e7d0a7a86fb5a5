// Data types. float32 is the compute type; float64 exists for gradient checks; float16 and bfloat16 are
// storage types (checkpoints) converted to float32 on load; int32/int64 hold ids; bool holds masks.

export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int32' | 'int64' | 'bool';

/** The typed array behind each dtype. float16/bfloat16 keep their raw 16-bit patterns. */
export interface StorageOf {
  float32: Float32Array;
  float64: Float64Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  bool: Uint8Array;
}
export type Storage = StorageOf[DType];
export type FloatStorage = Float32Array | Float64Array;

export const itemSize: Readonly<Record<DType, number>> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int32: 4, int64: 8, bool: 1,
};

export function isFloat(d: DType): d is 'float32' | 'float64' {
  return d === 'float32' || d === 'float64';
}

export function allocStorage<D extends DType>(dtype: D, n: number): StorageOf[D] {
  switch (dtype) {
    case 'float32': return new Float32Array(n) as StorageOf[D];
    case 'float64': return new Float64Array(n) as StorageOf[D];
    case 'float16': case 'bfloat16': return new Uint16Array(n) as StorageOf[D];
    case 'int32': return new Int32Array(n) as StorageOf[D];
    case 'int64': return new BigInt64Array(n) as StorageOf[D];
    case 'bool': return new Uint8Array(n) as StorageOf[D];
  }
  throw new Error(`unknown dtype ${String(dtype)}`);
}

// --- 16-bit float conversions (round to nearest even on the way down, as torch does) ---

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function bf16ToF32(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}

export function f32ToBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) return 0x7fc0; // NaN stays NaN
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

export function f32ToF16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow to inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow to zero
    mant |= 0x800000; // make the implicit bit explicit, then shift into a subnormal
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let out = mant >>> shift;
    if (rest > half || (rest === half && (out & 1))) out++;
    return sign | out;
  }
  const rest = mant & 0x1fff;
  let out = (e << 10) | (mant >>> 13);
  if (rest > 0x1000 || (rest === 0x1000 && (out & 1))) out++; // may carry into the exponent: still correct
  return sign | out;
}

/** Any storage to a float32 copy (ids and bools become numbers). */
export function toFloat32(dtype: DType, src: Storage): Float32Array {
  const out = new Float32Array(src.length);
  if (dtype === 'float16') for (let i = 0; i < out.length; i++) out[i] = f16ToF32((src as Uint16Array)[i]!);
  else if (dtype === 'bfloat16') for (let i = 0; i < out.length; i++) out[i] = bf16ToF32((src as Uint16Array)[i]!);
  else if (dtype === 'int64') for (let i = 0; i < out.length; i++) out[i] = Number((src as BigInt64Array)[i]!);
  else out.set(src as Float32Array);
  return out;
}
