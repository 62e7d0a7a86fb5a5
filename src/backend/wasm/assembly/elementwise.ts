// AssemblyScript source, compiled by asc (scripts/build-wasm.mjs); tsconfig excludes this folder.
// Elementwise kernels over contiguous f32 ranges (n floats from byte offsets), SIMD body + scalar tail.
// Binary ops: 0 add, 1 sub, 2 mul, 3 div. Unary ops: 0 relu, 1 gelu (erf), 2 gelu (tanh, GPT-2),
// 3 quick_gelu x·σ(1.702x) (CLIP), 4 silu x·σ(x), 5 exp, 6 tanh, 7 sigmoid, 8 neg, 9 square, 10 abs, 11 sqrt,
// 12 rsqrt; unaryBwd takes the same codes (0–10) and returns gy · op'(x). GELU forms from Hendrycks & Gimpel (2016).
import { vexp, vsigmoid, vtanh, verf } from './vmath';

@inline function binv(op: i32, a: v128, b: v128): v128 {
  if (op == 0) return f32x4.add(a, b);
  if (op == 1) return f32x4.sub(a, b);
  if (op == 2) return f32x4.mul(a, b);
  return f32x4.div(a, b);
}

@inline function unv(op: i32, x: v128): v128 {
  if (op == 0) return f32x4.pmax(x, f32x4.splat(0)); // keeps NaN, unlike a compare-select
  if (op == 1) return f32x4.mul(f32x4.mul(x, f32x4.splat(0.5)), f32x4.add(f32x4.splat(1), verf(f32x4.mul(x, f32x4.splat(0.70710678118)))));
  if (op == 2) {
    const inner = f32x4.mul(f32x4.splat(0.7978845608), f32x4.add(x, f32x4.mul(f32x4.splat(0.044715), f32x4.mul(x, f32x4.mul(x, x)))));
    return f32x4.mul(f32x4.mul(x, f32x4.splat(0.5)), f32x4.add(f32x4.splat(1), vtanh(inner)));
  }
  if (op == 3) return f32x4.mul(x, vsigmoid(f32x4.mul(x, f32x4.splat(1.702))));
  if (op == 4) return f32x4.mul(x, vsigmoid(x));
  if (op == 5) return vexp(x);
  if (op == 6) return vtanh(x);
  if (op == 7) return vsigmoid(x);
  if (op == 8) return f32x4.neg(x);
  if (op == 9) return f32x4.mul(x, x);
  if (op == 10) return f32x4.abs(x);
  if (op == 11) return f32x4.sqrt(x);
  return f32x4.div(f32x4.splat(1), f32x4.sqrt(x));
}

// d op(x)/dx for the unary codes 0–10.
@inline function dunv(op: i32, x: v128): v128 {
  const one = f32x4.splat(1), half = f32x4.splat(0.5);
  if (op == 0) return v128.and(f32x4.gt(x, f32x4.splat(0)), one);
  if (op == 1) {
    const cdf = f32x4.mul(half, f32x4.add(one, verf(f32x4.mul(x, f32x4.splat(0.70710678118)))));
    const pdf = f32x4.mul(f32x4.splat(0.3989422804), vexp(f32x4.mul(f32x4.mul(x, x), f32x4.splat(-0.5))));
    return f32x4.add(cdf, f32x4.mul(x, pdf));
  }
  if (op == 2) {
    const c = f32x4.splat(0.7978845608), k = f32x4.splat(0.044715);
    const x2 = f32x4.mul(x, x);
    const t = vtanh(f32x4.mul(c, f32x4.add(x, f32x4.mul(k, f32x4.mul(x2, x)))));
    const dInner = f32x4.mul(c, f32x4.add(one, f32x4.mul(f32x4.splat(3 * 0.044715), x2)));
    return f32x4.add(f32x4.mul(half, f32x4.add(one, t)), f32x4.mul(f32x4.mul(f32x4.mul(half, x), f32x4.sub(one, f32x4.mul(t, t))), dInner));
  }
  if (op == 3) {
    const s = vsigmoid(f32x4.mul(x, f32x4.splat(1.702)));
    return f32x4.add(s, f32x4.mul(f32x4.mul(f32x4.splat(1.702), x), f32x4.mul(s, f32x4.sub(one, s))));
  }
  if (op == 4) { const s = vsigmoid(x); return f32x4.mul(s, f32x4.add(one, f32x4.mul(x, f32x4.sub(one, s)))); }
  if (op == 5) return vexp(x);
  if (op == 6) { const t = vtanh(x); return f32x4.sub(one, f32x4.mul(t, t)); }
  if (op == 7) { const s = vsigmoid(x); return f32x4.mul(s, f32x4.sub(one, s)); }
  if (op == 8) return f32x4.splat(-1);
  if (op == 9) return f32x4.add(x, x);
  // abs: sign(x), 0 at 0
  return v128.or(v128.and(f32x4.gt(x, f32x4.splat(0)), one), v128.and(f32x4.lt(x, f32x4.splat(0)), f32x4.splat(-1)));
}

// One float through the SIMD path keeps the tail bit-identical in form to the body.
@inline function lane1(p: usize): v128 { return f32x4.splat(load<f32>(p)); }

// The exported entry points dispatch once on `op` to an inlined loop with a constant op, so the optimiser
// folds the per-element op switch away (measured ~3× on relu/add).
export function binary(op: i32, n: i32, a: usize, b: usize, out: usize): void {
  if (op == 0) binaryLoop(0, n, a, b, out);
  else if (op == 1) binaryLoop(1, n, a, b, out);
  else if (op == 2) binaryLoop(2, n, a, b, out);
  else binaryLoop(3, n, a, b, out);
}

@inline function binaryLoop(op: i32, n: i32, a: usize, b: usize, out: usize): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize>(i << 2);
    v128.store(out + o, binv(op, v128.load(a + o), v128.load(b + o)));
    v128.store(out + o, binv(op, v128.load(a + o, 16), v128.load(b + o, 16)), 16);
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize>(i << 2);
    v128.store(out + o, binv(op, v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>(i << 2);
    store<f32>(out + o, f32x4.extract_lane(binv(op, lane1(a + o), lane1(b + o)), 0));
  }
}

// out[r, c] = a[r, c] op v[c] for rows × cols (row-broadcast of a vector, e.g. bias add).
export function binaryRow(op: i32, rows: i32, cols: i32, a: usize, v: usize, out: usize): void {
  for (let r = 0; r < rows; r++) {
    const off = <usize>r * <usize>cols * 4;
    binary(op, cols, a + off, v, out + off);
  }
}

export function scale(n: i32, x: usize, s: f32, out: usize): void {
  const sv = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) { const o = <usize>(i << 2); v128.store(out + o, f32x4.mul(v128.load(x + o), sv)); }
  for (; i < n; i++) { const o = <usize>(i << 2); store<f32>(out + o, load<f32>(x + o) * s); }
}

export function unary(op: i32, n: i32, x: usize, out: usize): void {
  if (op == 0) unaryLoop(0, n, x, out);
  else if (op == 1) unaryLoop(1, n, x, out);
  else if (op == 2) unaryLoop(2, n, x, out);
  else if (op == 3) unaryLoop(3, n, x, out);
  else if (op == 4) unaryLoop(4, n, x, out);
  else if (op == 5) unaryLoop(5, n, x, out);
  else if (op == 6) unaryLoop(6, n, x, out);
  else if (op == 7) unaryLoop(7, n, x, out);
  else if (op == 8) unaryLoop(8, n, x, out);
  else if (op == 9) unaryLoop(9, n, x, out);
  else if (op == 10) unaryLoop(10, n, x, out);
  else if (op == 11) unaryLoop(11, n, x, out);
  else unaryLoop(12, n, x, out);
}

// out = gy · op'(x) over n floats.
export function unaryBwd(op: i32, n: i32, x: usize, gy: usize, out: usize): void {
  if (op == 0) unaryBwdLoop(0, n, x, gy, out);
  else if (op == 1) unaryBwdLoop(1, n, x, gy, out);
  else if (op == 2) unaryBwdLoop(2, n, x, gy, out);
  else if (op == 3) unaryBwdLoop(3, n, x, gy, out);
  else if (op == 4) unaryBwdLoop(4, n, x, gy, out);
  else if (op == 5) unaryBwdLoop(5, n, x, gy, out);
  else if (op == 6) unaryBwdLoop(6, n, x, gy, out);
  else if (op == 7) unaryBwdLoop(7, n, x, gy, out);
  else if (op == 8) unaryBwdLoop(8, n, x, gy, out);
  else if (op == 9) unaryBwdLoop(9, n, x, gy, out);
  else unaryBwdLoop(10, n, x, gy, out);
}

@inline function unaryBwdLoop(op: i32, n: i32, x: usize, gy: usize, out: usize): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) { const o = <usize>(i << 2); v128.store(out + o, f32x4.mul(v128.load(gy + o), dunv(op, v128.load(x + o)))); }
  for (; i < n; i++) { const o = <usize>(i << 2); store<f32>(out + o, load<f32>(gy + o) * f32x4.extract_lane(dunv(op, lane1(x + o)), 0)); }
}

// out[r, c] = a[r, c] op v[r] (a [rows, 1] column broadcast; rows = 1 is a scalar).
export function binaryCol(op: i32, rows: i32, cols: i32, a: usize, v: usize, out: usize): void {
  if (op == 0) binaryColLoop(0, rows, cols, a, v, out);
  else if (op == 1) binaryColLoop(1, rows, cols, a, v, out);
  else if (op == 2) binaryColLoop(2, rows, cols, a, v, out);
  else binaryColLoop(3, rows, cols, a, v, out);
}

@inline function binaryColLoop(op: i32, rows: i32, cols: i32, a: usize, v: usize, out: usize): void {
  for (let r = 0; r < rows; r++) {
    const off = <usize>r * <usize>cols * 4, ar = a + off, orow = out + off;
    const bv = v128.load32_splat(v + (<usize>r << 2));
    let i = 0;
    for (; i + 4 <= cols; i += 4) { const o = <usize>(i << 2); v128.store(orow + o, binv(op, v128.load(ar + o), bv)); }
    for (; i < cols; i++) { const o = <usize>(i << 2); store<f32>(orow + o, f32x4.extract_lane(binv(op, lane1(ar + o), bv), 0)); }
  }
}

@inline function unaryLoop(op: i32, n: i32, x: usize, out: usize): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize>(i << 2);
    v128.store(out + o, unv(op, v128.load(x + o)));
    v128.store(out + o, unv(op, v128.load(x + o, 16)), 16);
  }
  for (; i + 4 <= n; i += 4) { const o = <usize>(i << 2); v128.store(out + o, unv(op, v128.load(x + o))); }
  for (; i < n; i++) { const o = <usize>(i << 2); store<f32>(out + o, f32x4.extract_lane(unv(op, lane1(x + o)), 0)); }
}

// out = silu(a) · b (SwiGLU, Shazeer 2020).
export function swiglu(n: i32, a: usize, b: usize, out: usize): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>(i << 2);
    const x = v128.load(a + o);
    v128.store(out + o, f32x4.mul(f32x4.mul(x, vsigmoid(x)), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>(i << 2);
    const x = lane1(a + o);
    store<f32>(out + o, f32x4.extract_lane(f32x4.mul(x, vsigmoid(x)), 0) * load<f32>(b + o));
  }
}

// da = dy · b · σ(a)(1 + a(1 − σ(a))), db = dy · silu(a).
@inline function swigluBwdV(x: v128, bv: v128, g: v128, da: usize, db: usize, o: usize, lanes: i32): void {
  const s = vsigmoid(x);
  const one = f32x4.splat(1);
  const dsilu = f32x4.mul(s, f32x4.add(one, f32x4.mul(x, f32x4.sub(one, s))));
  const va = f32x4.mul(f32x4.mul(g, bv), dsilu);
  const vb = f32x4.mul(g, f32x4.mul(x, s));
  if (lanes == 4) { v128.store(da + o, va); v128.store(db + o, vb); }
  else { store<f32>(da + o, f32x4.extract_lane(va, 0)); store<f32>(db + o, f32x4.extract_lane(vb, 0)); }
}

export function swigluBwd(n: i32, a: usize, b: usize, dy: usize, da: usize, db: usize): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) { const o = <usize>(i << 2); swigluBwdV(v128.load(a + o), v128.load(b + o), v128.load(dy + o), da, db, o, 4); }
  for (; i < n; i++) { const o = <usize>(i << 2); swigluBwdV(lane1(a + o), lane1(b + o), lane1(dy + o), da, db, o, 1); }
}

// AdamW, torch semantics: p ← p(1 − lr·wd); m ← b1 m + (1−b1) g; v ← b2 v + (1−b2) g²;
// p ← p − stepSize · m / (√v / bc2Sqrt + eps) with stepSize = lr / (1 − b1^t), bc2Sqrt = √(1 − b2^t).
export function adamw(n: i32, p: usize, g: usize, m: usize, v: usize, lr: f32, b1: f32, b2: f32, eps: f32, wd: f32, stepSize: f32, bc2Sqrt: f32, gs: f32): void {
  const decay = f32x4.splat(1 - lr * wd), vb1 = f32x4.splat(b1), vb2 = f32x4.splat(b2);
  const c1 = f32x4.splat(1 - b1), c2 = f32x4.splat(1 - b2), veps = f32x4.splat(eps);
  const vstep = f32x4.splat(stepSize), vinv = f32x4.splat(<f32>1 / bc2Sqrt), vgs = f32x4.splat(gs);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>(i << 2);
    const gv = f32x4.mul(v128.load(g + o), vgs);
    const mv = f32x4.add(f32x4.mul(vb1, v128.load(m + o)), f32x4.mul(c1, gv));
    const vv = f32x4.add(f32x4.mul(vb2, v128.load(v + o)), f32x4.mul(c2, f32x4.mul(gv, gv)));
    const denom = f32x4.add(f32x4.mul(f32x4.sqrt(vv), vinv), veps);
    v128.store(m + o, mv); v128.store(v + o, vv);
    v128.store(p + o, f32x4.sub(f32x4.mul(v128.load(p + o), decay), f32x4.div(f32x4.mul(vstep, mv), denom)));
  }
  for (; i < n; i++) {
    const o = <usize>(i << 2);
    const gi = load<f32>(g + o) * gs;
    const ms = b1 * load<f32>(m + o) + (1 - b1) * gi;
    const vs = b2 * load<f32>(v + o) + (1 - b2) * gi * gi;
    store<f32>(m + o, ms); store<f32>(v + o, vs);
    store<f32>(p + o, load<f32>(p + o) * (1 - lr * wd) - stepSize * ms / (Mathf.sqrt(vs) / bc2Sqrt + eps));
  }
}
