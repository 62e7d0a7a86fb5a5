// AssemblyScript source, compiled by asc (scripts/build-wasm.mjs); tsconfig excludes this folder.
// Vectorised transcendental functions over f32x4 for the memory-bound kernels.
// exp: Cephes-style range reduction x = n ln2 + r, |r| <= ln2/2, then a degree-6 polynomial
// for e^r and 2^n built in the exponent bits (relative error ~2e-7 over the f32 range).
// erf: an odd rational function (the form Eigen's fast erf uses; absolute error <= 4e-7), tanh through exp.

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;

@inline export function vexp(x: v128): v128 {
  // pmin/pmax are single minps/maxps; the IEEE min/max of wasm cost several instructions each on x64
  const xc = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-87.3)), f32x4.splat(88.7));
  // round-to-nearest by adding 1.5·2^23: the integer n then sits in the low mantissa bits of t
  const t = f32x4.add(f32x4.mul(xc, f32x4.splat(LOG2E)), f32x4.splat(12582912.0));
  const n = f32x4.sub(t, f32x4.splat(12582912.0));
  let r = f32x4.sub(xc, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.mul(f32x4.mul(p, r), r), f32x4.add(r, f32x4.splat(1)));
  const pow2n = i32x4.shl(i32x4.add(i32x4.sub(t, i32x4.splat(0x4B400000)), i32x4.splat(127)), 23);
  const y = f32x4.mul(p, pow2n);
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
  // odd rational x·P(x²)/Q(x²) on [-4, 4] (erf(±4) is ±1 in f32): one division and no exp, against A&S's
  // division and exp; absolute error <= 4e-7 (checked in float32 against math.erf)
  const xc = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-4)), f32x4.splat(4));
  const x2 = f32x4.mul(xc, xc);
  let p = f32x4.splat(-2.72614225801306e-10);
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(2.77068142495902e-08));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-2.10102402082508e-06));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-5.69250639462346e-05));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-7.34990630326855e-04));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-2.95459980854025e-03));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-1.60960333262415e-02));
  let q = f32x4.splat(-1.45660718464996e-05);
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(-2.13374055278905e-04));
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(-1.68282697438203e-03));
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(-7.37332916720468e-03));
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(-1.42647390514189e-02));
  return f32x4.div(f32x4.mul(xc, p), q);
}

@inline export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

@inline export function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}
