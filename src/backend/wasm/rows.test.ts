// Row kernels against plain-JS f64 definitions (softmax, log_softmax, RMSNorm, LayerNorm, cross-entropy,
// reductions); backward kernels against central finite differences of the JS forward, 1 and 2 threads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWasmRuntime, type WasmRuntime } from './runtime.ts';
import { crossEntropy, layerNorm, layerNormBwd, logSoftmax, rmsNorm, rmsNormBwd, softmax, softmaxBwd, sumCols, sumRows, sumSquares } from './rows.ts';
import { referenceKernels } from '../reference/index.ts';
import { wasmKernels } from './index.ts';

function rand(rt: WasmRuntime, n: number, lo: number, hi: number, seed: number): Float32Array {
  const a = rt.heap.alloc(n).array;
  let s = seed;
  for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) >>> 0; a[i] = lo + (hi - lo) * (s / 2 ** 32); }
  return a;
}

function near(got: ArrayLike<number>, want: ArrayLike<number>, rel: number, abs: number, what: string): void {
  assert.equal(got.length >= want.length, true);
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i]! - want[i]!) <= rel * Math.abs(want[i]!) + abs, `${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

// JS references over one row (f64)
function softmaxRef(x: ArrayLike<number>): number[] {
  const m = Math.max(...Array.from(x));
  const e = Array.from(x, (v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}
function rmsRef(x: number[], w: ArrayLike<number>, eps: number): number[] {
  const r = 1 / Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length + eps);
  return x.map((v, i) => v * r * w[i]!);
}
function lnRef(x: number[], w: ArrayLike<number>, b: ArrayLike<number>, eps: number): number[] {
  const mu = x.reduce((a, v) => a + v, 0) / x.length;
  const r = 1 / Math.sqrt(x.reduce((a, v) => a + (v - mu) ** 2, 0) / x.length + eps);
  return x.map((v, i) => (v - mu) * r * w[i]! + b[i]!);
}

// Σ_ij dy_ij · f(x)_ij differentiated by central differences in x (per element) and in a weight vector.
function fdGrad(f: (x: number[]) => number[], x: number[], dy: ArrayLike<number>, h = 1e-3): number[] {
  return x.map((_, i) => {
    const xp = x.slice(), xm = x.slice();
    xp[i]! += h; xm[i]! -= h;
    const fp = f(xp), fm = f(xm);
    return fp.reduce((a, v, j) => a + dy[j]! * (v - fm[j]!), 0) / (2 * h);
  });
}

for (const threads of [1, 2]) {
  test(`softmax / log_softmax / softmax backward, threads=${threads}`, async () => {
    const rt = await createWasmRuntime({ threads });
    try {
      for (const [rows, cols] of [[1, 1], [3, 7], [1100, 33], [2, 1000]] as const) {
        const x = rand(rt, rows * cols, -20, 20, cols), y = rt.heap.alloc(rows * cols).array, l = rt.heap.alloc(rows * cols).array;
        const dy = rand(rt, rows * cols, -1, 1, 3), dx = rt.heap.alloc(rows * cols).array;
        softmax(rt, rows, cols, x, y);
        logSoftmax(rt, rows, cols, x, l);
        softmaxBwd(rt, rows, cols, y, dy, dx);
        for (const r of [0, rows - 1]) {
          const xr = Array.from(x.subarray(r * cols, (r + 1) * cols));
          const p = softmaxRef(xr);
          near(y.subarray(r * cols), p, 1e-5, 1e-7, 'softmax');
          near(l.subarray(r * cols), p.map((v, i) => Math.log(Math.max(v, 1e-300)) || xr[i]! - Math.max(...xr)), 1e-5, 1e-5, 'logSoftmax');
          const g = dy.subarray(r * cols, (r + 1) * cols);
          near(dx.subarray(r * cols), fdGrad(softmaxRef, xr, g), 1e-2, 1e-4, 'softmaxBwd');
        }
      }
    } finally {
      await rt.close();
    }
  });

  test(`rms_norm and layer_norm forward and backward, threads=${threads}`, async () => {
    const rt = await createWasmRuntime({ threads });
    try {
      for (const [rows, cols] of [[1, 1], [5, 13], [300, 64]] as const) {
        const n = rows * cols, eps = 1e-5;
        const x = rand(rt, n, -2, 2, cols + 1), w = rand(rt, cols, 0.5, 1.5, 2), b = rand(rt, cols, -1, 1, 3), dy = rand(rt, n, -1, 1, 4);
        const y = rt.heap.alloc(n).array, dx = rt.heap.alloc(n).array, dw = rt.heap.alloc(cols).array, db = rt.heap.alloc(cols).array;
        const mean = rt.heap.alloc(rows).array, rstd = rt.heap.alloc(rows).array;
        const row = (r: number): number[] => Array.from(x.subarray(r * cols, (r + 1) * cols));
        const dyRow = (r: number): Float32Array => dy.subarray(r * cols, (r + 1) * cols);
        const sumOver = (f: (r: number) => number[]): number[] => {
          const acc = new Array<number>(cols).fill(0);
          for (let r = 0; r < rows; r++) f(r).forEach((v, i) => { acc[i]! += v; });
          return acc;
        };

        rmsNorm(rt, rows, cols, x, w, eps, y, rstd);
        rmsNormBwd(rt, rows, cols, x, w, rstd, dy, dx, dw);
        for (const r of [0, rows - 1]) {
          near(y.subarray(r * cols), rmsRef(row(r), w, eps), 1e-5, 1e-6, 'rmsNorm');
          if (cols > 1) near(dx.subarray(r * cols), fdGrad((v) => rmsRef(v, w, eps), row(r), dyRow(r)), 2e-2, 2e-3, 'rmsNorm dx');
        }
        const wv = Array.from(w);
        near(dw, sumOver((r) => fdGrad((ww) => rmsRef(row(r), ww, eps), wv, dyRow(r))), 1e-2, 1e-3, 'rmsNorm dw');

        layerNorm(rt, rows, cols, x, w, b, eps, y, mean, rstd);
        layerNormBwd(rt, rows, cols, x, w, mean, rstd, dy, dx, dw, db);
        for (const r of [0, rows - 1]) {
          near(y.subarray(r * cols), lnRef(row(r), w, b, eps), 1e-5, 1e-5, 'layerNorm');
          if (cols > 1) near(dx.subarray(r * cols), fdGrad((v) => lnRef(v, w, b, eps), row(r), dyRow(r)), 2e-2, 2e-3, 'layerNorm dx');
        }
        near(dw, sumOver((r) => fdGrad((ww) => lnRef(row(r), ww, b, eps), wv, dyRow(r))), 1e-2, 1e-3, 'layerNorm dw');
        near(db, sumOver((r) => Array.from(dyRow(r))), 1e-5, 1e-5, 'layerNorm db');
      }
    } finally {
      await rt.close();
    }
  });

  test(`cross-entropy with ignore_index and the reductions, threads=${threads}`, async () => {
    const rt = await createWasmRuntime({ threads });
    try {
      const [rows, cols] = [1201, 37];
      const x = rand(rt, rows * cols, -8, 8, 9), loss = rt.heap.alloc(rows).array, dl = rt.heap.alloc(rows * cols).array;
      const targets = new Int32Array(rt.heap.memory.buffer, rt.heap.allocBytes(4 * rows), rows);
      for (let r = 0; r < rows; r++) targets[r] = r % 5 === 0 ? -100 : (r * 7) % cols;
      const mean = crossEntropy(rt, rows, cols, x, targets, loss, dl);
      let total = 0, count = 0;
      for (let r = 0; r < rows; r++) {
        const xr = Array.from(x.subarray(r * cols, (r + 1) * cols));
        const p = softmaxRef(xr);
        if (targets[r] === -100) {
          assert.equal(loss[r], 0);
          assert.ok(dl.subarray(r * cols, (r + 1) * cols).every((v) => v === 0));
          continue;
        }
        const l = -Math.log(p[targets[r]!]!);
        near([loss[r]!], [l], 1e-5, 1e-5, 'ce loss');
        total += l; count++;
        const want = p.map((v, i) => (v - (i === targets[r] ? 1 : 0)));
        near(dl.subarray(r * cols), want.map((v) => v / 960), 1e-4, 1e-9, 'ce dlogits');
      }
      assert.equal(count, 960); // every 5th of 1201 rows is ignored
      near([mean], [total / count], 1e-6, 0, 'ce mean');
      targets[3] = cols;
      assert.throws(() => crossEntropy(rt, rows, cols, x, targets, loss, dl), /target 37 at row 3 is outside \[0, 37\)/);

      const sr = rt.heap.alloc(rows).array, sc = rt.heap.alloc(cols).array;
      sumRows(rt, rows, cols, x, sr);
      sumCols(rt, rows, cols, x, sc);
      const wantCols = new Array<number>(cols).fill(0);
      let sq = 0;
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let c = 0; c < cols; c++) { const v = x[r * cols + c]!; s += v; wantCols[c]! += v; sq += v * v; }
        near([sr[r]!], [s], 1e-5, 1e-4, 'sumRows');
      }
      near(sc, wantCols, 1e-5, 1e-3, 'sumCols');
      near([sumSquares(rt, rows * cols, x)], [sq], 1e-6, 0, 'sumSquares');
    } finally {
      await rt.close();
    }
  });
}

test('sumSquares: the reference kernel\'s f64 sum bit for bit (every tail length, magnitudes 1e-4 to 1e4)', async () => {
  const rt = await createWasmRuntime({ threads: 2 });
  try {
    for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 63, 64, 65, 1001, 4099, 100_003]) {
      const x = rand(rt, n, -1, 1, n);
      // spread the magnitudes so float64 rounding, and thus the order of the sums, shows in the last bits
      for (let i = 0; i < n; i++) x[i] = x[i]! * 10 ** ((i * 7919) % 9 - 4);
      const want = referenceKernels.sumSquares(x), got = sumSquares(rt, n, x);
      assert.equal(Object.is(got, want), true, `n ${n}: got ${got}, the reference kernel ${want}`);
      let plain = 0;
      for (let i = 0; i < n; i++) plain += x[i]! * x[i]!;
      if (n > 1000) assert.notEqual(plain, want, `n ${n}: a plain left-to-right sum already agrees, so the test shows no order`);
    }
    // through the backend's kernel, as clipping calls it: a gradient view at an odd offset into the heap, and an
    // array outside the heap (the reference loop)
    const sumSq = wasmKernels(rt).sumSquares!, x = rand(rt, 1003, -3, 3, 7);
    assert.equal(Object.is(sumSq(x.subarray(1)), referenceKernels.sumSquares(x.subarray(1))), true, 'a view at offset 1');
    const outside = Float32Array.from(x);
    assert.equal(Object.is(sumSq(outside), referenceKernels.sumSquares(outside)), true, 'an array outside the heap');
  } finally {
    await rt.close();
  }
});
