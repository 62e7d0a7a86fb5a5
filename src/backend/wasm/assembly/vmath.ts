// AssemblyScript source, compiled by asc (scripts/build-wasm.mjs); tsconfig excludes this folder.
// Vectorised transcendental functions over f32x4 for the memory-bound kernels.
// exp: Cephes-style range reduction x = n ln2 + r, |r| <= ln2/2, then e^r ≈ 1 + r + r²·p(r) with p of degree 5,
// and 2^n built in the exponent bits (relative error ~2e-7 over the f32 range).
// erf: Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7), tanh through exp.

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;

// a·b + c and c − a·b: one FMA each in the relaxed build (kernels-relaxed.wasm), else a multiply and an add
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}
@inline export function nmadd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_nmadd(a, b, c);
  return f32x4.sub(c, f32x4.mul(a, b));
}

@inline export function vexp(x: v128): v128 {
  // pmin/pmax are single minps/maxps; the IEEE min/max of wasm cost several instructions each on x64
  const xc = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-87.3)), f32x4.splat(88.7));
  // round-to-nearest by adding 1.5·2^23: the integer n then sits in the low mantissa bits of t
  const t = madd(xc, f32x4.splat(LOG2E), f32x4.splat(12582912.0));
  const n = f32x4.sub(t, f32x4.splat(12582912.0));
  const r = nmadd(n, f32x4.splat(LN2_LO), nmadd(n, f32x4.splat(LN2_HI), xc));
  // p by Estrin's scheme (three dependent levels, not Horner's five): the kernels are bound by this chain's
  // latency more than by their instruction count (BENCHMARKS.md)
  const r2 = f32x4.mul(r, r);
  const a = madd(f32x4.splat(1.9875691500e-4), r, f32x4.splat(1.3981999507e-3));
  const b = madd(f32x4.splat(8.3334519073e-3), r, f32x4.splat(4.1665795894e-2));
  const c = madd(f32x4.splat(1.6666665459e-1), r, f32x4.splat(5.0000001201e-1));
  const p = madd(madd(a, r2, b), r2, c);
  const q = madd(p, r2, f32x4.add(r, f32x4.splat(1)));
  const pow2n = i32x4.shl(i32x4.add(i32x4.sub(t, i32x4.splat(0x4B400000)), i32x4.splat(127)), 23);
  const y = f32x4.mul(q, pow2n);
  // -inf inputs (masked scores) must give exactly 0, not e^-87.
  return v128.and(y, f32x4.gt(x, f32x4.splat(-87.2)));
}

@inline export function sexp(x: f32): f32 {
  return f32x4.extract_lane(vexp(f32x4.splat(x)), 0);
}

@inline export function vsigmoid(x: v128): v128 {
  const one = f32x4.splat(1);
  return f32x4.div(one, f32x4.add(one, vexp(f32x4.neg(x))));
}

@inline export function vtanh(x: v128): v128 {
  const one = f32x4.splat(1);
  const e = vexp(f32x4.mul(x, f32x4.splat(2)));
  return f32x4.sub(one, f32x4.div(f32x4.splat(2), f32x4.add(e, one)));
}

@inline export function verf(x: v128): v128 {
  const ax = f32x4.abs(x);
  const t = f32x4.div(f32x4.splat(1), madd(ax, f32x4.splat(0.3275911), f32x4.splat(1)));
  let p = madd(f32x4.splat(1.061405429), t, f32x4.splat(-1.453152027));
  p = madd(p, t, f32x4.splat(1.421413741));
  p = madd(p, t, f32x4.splat(-0.284496736));
  p = madd(p, t, f32x4.splat(0.254829592));
  p = f32x4.mul(p, t);
  const y = nmadd(p, vexp(f32x4.neg(f32x4.mul(ax, ax))), f32x4.splat(1));
  // copy the sign of x onto y
  return v128.or(y, v128.and(x, i32x4.splat(0x80000000)));
}

@inline export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

@inline export function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}
