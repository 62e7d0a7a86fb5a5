// AssemblyScript source, compiled by asc (scripts/build-wasm.mjs); tsconfig excludes this folder.
// Row-wise kernels over a [rows, cols] f32 matrix: softmax (+bwd), log_softmax, RMSNorm (Zhang & Sennrich 2019)
// and LayerNorm (Ba et al. 2016) forward/backward, fused cross-entropy, and row/column/square sums.
// Every row kernel handles rows [r0, r1) so the pool can split rows without copying.
import { vexp, hsum, hmax, madd } from './vmath';

@inline function at(base: usize, i: i32): usize { return base + <usize>(i << 2); }
@inline function rowAt(base: usize, r: i32, cols: i32): usize { return base + <usize>r * <usize>cols * 4; }

// Softmax's max and sum keep two vector accumulators, eight elements an iteration: with one, each iteration waits
// for the previous one's max or add (1.05x on softmax, alternated modules, BENCHMARKS.md).
function rowMax(x: usize, n: i32): f32 {
  let m0 = f32x4.splat(-Infinity), m1 = m0;
  let i = 0;
  for (; i + 8 <= n; i += 8) { m0 = f32x4.pmax(m0, v128.load(at(x, i))); m1 = f32x4.pmax(m1, v128.load(at(x, i), 16)); }
  for (; i + 4 <= n; i += 4) m0 = f32x4.pmax(m0, v128.load(at(x, i)));
  let s = hmax(f32x4.pmax(m0, m1));
  for (; i < n; i++) s = max(s, load<f32>(at(x, i)));
  return s;
}

// y = exp(x - shift) stored, returns Σ y.
function expShiftSum(x: usize, y: usize, n: i32, shift: f32): f32 {
  const sv = f32x4.splat(shift);
  let acc0 = f32x4.splat(0), acc1 = acc0;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const e0 = vexp(f32x4.sub(v128.load(at(x, i)), sv)), e1 = vexp(f32x4.sub(v128.load(at(x, i), 16), sv));
    v128.store(at(y, i), e0); v128.store(at(y, i), e1, 16);
    acc0 = f32x4.add(acc0, e0); acc1 = f32x4.add(acc1, e1);
  }
  for (; i + 4 <= n; i += 4) { const e = vexp(f32x4.sub(v128.load(at(x, i)), sv)); v128.store(at(y, i), e); acc0 = f32x4.add(acc0, e); }
  let s = hsum(f32x4.add(acc0, acc1));
  for (; i < n; i++) { const e = f32x4.extract_lane(vexp(f32x4.splat(load<f32>(at(x, i)) - shift)), 0); store<f32>(at(y, i), e); s += e; }
  return s;
}

function dot(a: usize, b: usize, n: i32): f32 {
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) acc = f32x4.add(acc, f32x4.mul(v128.load(at(a, i)), v128.load(at(b, i))));
  let s = hsum(acc);
  for (; i < n; i++) s += load<f32>(at(a, i)) * load<f32>(at(b, i));
  return s;
}

function sum(a: usize, n: i32): f32 {
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) acc = f32x4.add(acc, v128.load(at(a, i)));
  let s = hsum(acc);
  for (; i < n; i++) s += load<f32>(at(a, i));
  return s;
}

// y = a·x + b, elementwise over n.
function affine(x: usize, y: usize, n: i32, a: f32, b: f32): void {
  const av = f32x4.splat(a), bv = f32x4.splat(b);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(at(y, i), madd(v128.load(at(x, i)), av, bv));
  for (; i < n; i++) store<f32>(at(y, i), load<f32>(at(x, i)) * a + b);
}

export function softmax(r0: i32, r1: i32, cols: i32, x: usize, y: usize): void {
  for (let r = r0; r < r1; r++) {
    const xr = rowAt(x, r, cols), yr = rowAt(y, r, cols);
    const s = expShiftSum(xr, yr, cols, rowMax(xr, cols));
    affine(yr, yr, cols, <f32>1 / s, 0);
  }
}

export function logSoftmax(r0: i32, r1: i32, cols: i32, x: usize, y: usize): void {
  for (let r = r0; r < r1; r++) {
    const xr = rowAt(x, r, cols), yr = rowAt(y, r, cols);
    const m = rowMax(xr, cols);
    const s = expShiftSum(xr, yr, cols, m);
    affine(xr, yr, cols, 1, -(m + Mathf.log(s)));
  }
}

// dx = y ⊙ (dy − ⟨dy, y⟩) per row.
export function softmaxBwd(r0: i32, r1: i32, cols: i32, y: usize, dy: usize, dx: usize): void {
  for (let r = r0; r < r1; r++) {
    const yr = rowAt(y, r, cols), gr = rowAt(dy, r, cols), dr = rowAt(dx, r, cols);
    const d = f32x4.splat(dot(yr, gr, cols));
    let i = 0;
    for (; i + 4 <= cols; i += 4) v128.store(at(dr, i), f32x4.mul(v128.load(at(yr, i)), f32x4.sub(v128.load(at(gr, i)), d)));
    for (; i < cols; i++) store<f32>(at(dr, i), load<f32>(at(yr, i)) * (load<f32>(at(gr, i)) - f32x4.extract_lane(d, 0)));
  }
}

// y = x · rstd · w, rstd = 1/√(mean(x²) + eps), saved per row.
export function rmsNorm(r0: i32, r1: i32, cols: i32, x: usize, w: usize, eps: f32, y: usize, rstd: usize): void {
  for (let r = r0; r < r1; r++) {
    const xr = rowAt(x, r, cols), yr = rowAt(y, r, cols);
    const rs: f32 = <f32>1 / Mathf.sqrt(dot(xr, xr, cols) / <f32>cols + eps);
    store<f32>(at(rstd, r), rs);
    const rv = f32x4.splat(rs);
    let i = 0;
    for (; i + 4 <= cols; i += 4) v128.store(at(yr, i), f32x4.mul(f32x4.mul(v128.load(at(xr, i)), rv), v128.load(at(w, i))));
    for (; i < cols; i++) store<f32>(at(yr, i), load<f32>(at(xr, i)) * rs * load<f32>(at(w, i)));
  }
}

// dx = rstd (w⊙dy − x̂ · mean(w⊙dy⊙x̂)), x̂ = x·rstd; dw (cols floats, overwritten) = Σ_rows dy ⊙ x̂.
export function rmsNormBwd(r0: i32, r1: i32, cols: i32, x: usize, w: usize, rstd: usize, dy: usize, dx: usize, dw: usize): void {
  memory.fill(dw, 0, <usize>cols * 4);
  for (let r = r0; r < r1; r++) {
    const xr = rowAt(x, r, cols), gr = rowAt(dy, r, cols), dr = rowAt(dx, r, cols);
    const rs = load<f32>(at(rstd, r));
    let av = f32x4.splat(0);
    let i = 0;
    for (; i + 4 <= cols; i += 4) av = f32x4.add(av, f32x4.mul(f32x4.mul(v128.load(at(gr, i)), v128.load(at(w, i))), v128.load(at(xr, i))));
    let acc = hsum(av);
    for (; i < cols; i++) acc += load<f32>(at(gr, i)) * load<f32>(at(w, i)) * load<f32>(at(xr, i));
    const c = acc * rs * rs / <f32>cols; // mean(w dy x̂) · rstd, folded
    const rv = f32x4.splat(rs), cv = f32x4.splat(c);
    i = 0;
    for (; i + 4 <= cols; i += 4) {
      const xi = v128.load(at(xr, i)), gi = v128.load(at(gr, i));
      v128.store(at(dr, i), f32x4.mul(rv, f32x4.sub(f32x4.mul(gi, v128.load(at(w, i))), f32x4.mul(xi, cv))));
      v128.store(at(dw, i), f32x4.add(v128.load(at(dw, i)), f32x4.mul(f32x4.mul(gi, xi), rv)));
    }
    for (; i < cols; i++) {
      const xi = load<f32>(at(xr, i)), gi = load<f32>(at(gr, i));
      store<f32>(at(dr, i), rs * (gi * load<f32>(at(w, i)) - xi * c));
      store<f32>(at(dw, i), load<f32>(at(dw, i)) + gi * xi * rs);
    }
  }
}

// y = (x − mean) · rstd · w + b; mean and rstd saved per row.
export function layerNorm(r0: i32, r1: i32, cols: i32, x: usize, w: usize, b: usize, eps: f32, y: usize, mean: usize, rstd: usize): void {
  for (let r = r0; r < r1; r++) {
    const xr = rowAt(x, r, cols), yr = rowAt(y, r, cols);
    const mu = sum(xr, cols) / <f32>cols;
    const mv = f32x4.splat(mu);
    let av = f32x4.splat(0);
    let i = 0;
    for (; i + 4 <= cols; i += 4) { const d = f32x4.sub(v128.load(at(xr, i)), mv); av = f32x4.add(av, f32x4.mul(d, d)); }
    let acc = hsum(av);
    for (; i < cols; i++) { const d = load<f32>(at(xr, i)) - mu; acc += d * d; }
    const rs: f32 = <f32>1 / Mathf.sqrt(acc / <f32>cols + eps);
    store<f32>(at(mean, r), mu); store<f32>(at(rstd, r), rs);
    const rv = f32x4.splat(rs);
    i = 0;
    for (; i + 4 <= cols; i += 4) {
      const xh = f32x4.mul(f32x4.sub(v128.load(at(xr, i)), mv), rv);
      v128.store(at(yr, i), madd(xh, v128.load(at(w, i)), v128.load(at(b, i))));
    }
    for (; i < cols; i++) store<f32>(at(yr, i), (load<f32>(at(xr, i)) - mu) * rs * load<f32>(at(w, i)) + load<f32>(at(b, i)));
  }
}

// g = dy⊙w; dx = rstd (g − mean(g) − x̂ · mean(g⊙x̂)); dw = Σ dy⊙x̂, db = Σ dy (overwritten).
export function layerNormBwd(r0: i32, r1: i32, cols: i32, x: usize, w: usize, mean: usize, rstd: usize, dy: usize, dx: usize, dw: usize, db: usize): void {
  memory.fill(dw, 0, <usize>cols * 4);
  memory.fill(db, 0, <usize>cols * 4);
  for (let r = r0; r < r1; r++) {
    const xr = rowAt(x, r, cols), gr = rowAt(dy, r, cols), dr = rowAt(dx, r, cols);
    const mu = load<f32>(at(mean, r)), rs = load<f32>(at(rstd, r));
    const mv = f32x4.splat(mu), rv = f32x4.splat(rs);
    let sgv = f32x4.splat(0), sgxv = f32x4.splat(0);
    let i = 0;
    for (; i + 4 <= cols; i += 4) {
      const g = f32x4.mul(v128.load(at(gr, i)), v128.load(at(w, i)));
      sgv = f32x4.add(sgv, g);
      sgxv = f32x4.add(sgxv, f32x4.mul(g, f32x4.mul(f32x4.sub(v128.load(at(xr, i)), mv), rv)));
    }
    let sg = hsum(sgv), sgx = hsum(sgxv);
    for (; i < cols; i++) {
      const g = load<f32>(at(gr, i)) * load<f32>(at(w, i));
      sg += g; sgx += g * (load<f32>(at(xr, i)) - mu) * rs;
    }
    sg /= <f32>cols; sgx /= <f32>cols;
    const sgs = f32x4.splat(sg), sgxs = f32x4.splat(sgx);
    i = 0;
    for (; i + 4 <= cols; i += 4) {
      const gi = v128.load(at(gr, i));
      const xh = f32x4.mul(f32x4.sub(v128.load(at(xr, i)), mv), rv);
      v128.store(at(dr, i), f32x4.mul(rv, f32x4.sub(f32x4.sub(f32x4.mul(gi, v128.load(at(w, i))), sgs), f32x4.mul(xh, sgxs))));
      v128.store(at(dw, i), f32x4.add(v128.load(at(dw, i)), f32x4.mul(gi, xh)));
      v128.store(at(db, i), f32x4.add(v128.load(at(db, i)), gi));
    }
    for (; i < cols; i++) {
      const gi = load<f32>(at(gr, i));
      const xh = (load<f32>(at(xr, i)) - mu) * rs;
      store<f32>(at(dr, i), rs * (gi * load<f32>(at(w, i)) - sg - xh * sgx));
      store<f32>(at(dw, i), load<f32>(at(dw, i)) + gi * xh);
      store<f32>(at(db, i), load<f32>(at(db, i)) + gi);
    }
  }
}

// Per row: loss = logsumexp(x) − x[t]; dlogits = (softmax(x) − onehot(t)) · gradScale; rows with t = ignore
// get loss 0 and zero gradient. Returns Σ loss over [r0, r1) (f64 to keep long sums exact enough).
export function crossEntropy(r0: i32, r1: i32, cols: i32, x: usize, targets: usize, ignoreIndex: i32, gradScale: f32, loss: usize, dx: usize): f64 {
  let total: f64 = 0;
  for (let r = r0; r < r1; r++) {
    const xr = rowAt(x, r, cols), dr = rowAt(dx, r, cols);
    const t = load<i32>(at(targets, r));
    if (t == ignoreIndex || t < 0 || t >= cols) {
      store<f32>(at(loss, r), t == ignoreIndex ? 0 : NaN);
      memory.fill(dr, 0, <usize>cols * 4);
      continue;
    }
    const m = rowMax(xr, cols);
    const s = expShiftSum(xr, dr, cols, m);
    const l = m + Mathf.log(s) - load<f32>(at(xr, t));
    store<f32>(at(loss, r), l);
    total += <f64>l;
    affine(dr, dr, cols, gradScale / s, 0);
    store<f32>(at(dr, t), load<f32>(at(dr, t)) - gradScale);
  }
  return total;
}

// Σ exp(x − shift) over n floats, nothing stored (the loss-only pass).
function expSum(x: usize, n: i32, shift: f32): f32 {
  const sv = f32x4.splat(shift);
  let acc = f32x4.splat(0), acc2 = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    acc = f32x4.add(acc, vexp(f32x4.sub(v128.load(at(x, i)), sv)));
    acc2 = f32x4.add(acc2, vexp(f32x4.sub(v128.load(at(x, i + 4)), sv)));
  }
  for (; i + 4 <= n; i += 4) acc = f32x4.add(acc, vexp(f32x4.sub(v128.load(at(x, i)), sv)));
  let s = hsum(f32x4.add(acc, acc2));
  for (; i < n; i++) s += f32x4.extract_lane(vexp(f32x4.splat(load<f32>(at(x, i)) - shift)), 0);
  return s;
}

// The two halves of crossEntropy as the engine's kernels call them (targets already range-checked):
// loss[r] = logsumexp(x[r]) − x[r, t] (0 where t = ignoreIndex) ...
export function crossEntropyLoss(r0: i32, r1: i32, cols: i32, x: usize, targets: usize, ignoreIndex: i32, loss: usize): void {
  for (let r = r0; r < r1; r++) {
    const xr = rowAt(x, r, cols), t = load<i32>(at(targets, r));
    if (t == ignoreIndex) { store<f32>(at(loss, r), 0); continue; }
    const m = rowMax(xr, cols);
    store<f32>(at(loss, r), m + Mathf.log(expSum(xr, cols, m)) - load<f32>(at(xr, t)));
  }
}

// ... and dx[r] = scale · (softmax(x[r]) − onehot(t)), zero rows where t = ignoreIndex.
export function crossEntropyGrad(r0: i32, r1: i32, cols: i32, x: usize, targets: usize, ignoreIndex: i32, scale: f32, dx: usize): void {
  for (let r = r0; r < r1; r++) {
    const xr = rowAt(x, r, cols), dr = rowAt(dx, r, cols), t = load<i32>(at(targets, r));
    if (t == ignoreIndex) { memory.fill(dr, 0, <usize>cols * 4); continue; }
    const m = rowMax(xr, cols);
    const s = expShiftSum(xr, dr, cols, m);
    affine(dr, dr, cols, scale / s, 0);
    store<f32>(at(dr, t), load<f32>(at(dr, t)) - scale);
  }
}

// out[r] = Σ_c x[r, c] for rows [r0, r1).
export function sumRows(r0: i32, r1: i32, cols: i32, x: usize, out: usize): void {
  for (let r = r0; r < r1; r++) store<f32>(at(out, r), sum(rowAt(x, r, cols), cols));
}

// out[c] = Σ_r x[r, c] for columns [c0, c1) (bias gradient).
export function sumCols(rows: i32, cols: i32, c0: i32, c1: i32, x: usize, out: usize): void {
  const n = c1 - c0;
  const o = at(out, c0);
  memory.fill(o, 0, <usize>n * 4);
  for (let r = 0; r < rows; r++) {
    const xr = at(rowAt(x, r, cols), c0);
    let i = 0;
    for (; i + 4 <= n; i += 4) v128.store(at(o, i), f32x4.add(v128.load(at(o, i)), v128.load(at(xr, i))));
    for (; i < n; i++) store<f32>(at(o, i), load<f32>(at(o, i)) + load<f32>(at(xr, i)));
  }
}

// Σ x² over n floats in f64 (grad-norm clipping), in the order of the reference kernel: sums s0..s3 over
// x[4k..4k+3] as the lanes of two f64x2 (each lane's f64 multiply and add are the JS loop's, so the same bits),
// the tail into s0, then ((s0 + s1) + s2) + s3.
export function sumSquares(n: i32, x: usize): f64 {
  let s01 = f64x2.splat(0), s23 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(at(x, i));
    const lo = f64x2.promote_low_f32x4(v), hi = f64x2.promote_low_f32x4(v128.shuffle<u32>(v, v, 2, 3, 2, 3));
    s01 = f64x2.add(s01, f64x2.mul(lo, lo));
    s23 = f64x2.add(s23, f64x2.mul(hi, hi));
  }
  let s0 = f64x2.extract_lane(s01, 0);
  for (; i < n; i++) {
    const t = <f64>load<f32>(at(x, i));
    s0 += t * t;
  }
  return s0 + f64x2.extract_lane(s01, 1) + f64x2.extract_lane(s23, 0) + f64x2.extract_lane(s23, 1);
}
