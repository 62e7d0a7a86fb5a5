// Elementwise kernels against plain-JS definitions in f64, odd lengths (SIMD body + scalar tail), 1 and 2 threads;
// SwiGLU backward against finite differences of the JS forward; AdamW against torch's update written out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWasmRuntime, type WasmRuntime } from './runtime.ts';
import { adamw, binary, binaryRow, scale, swiglu, swigluBwd, unary, type UnaryOp } from './elementwise.ts';

function erf(x: number): number { // series / continued fraction free: high-precision A&S 7.1.28 is not enough, use Taylor
  let sum = 0, term = x, n = 0;
  if (Math.abs(x) > 4) return Math.sign(x);
  while (Math.abs(term) > 1e-17 * Math.abs(sum) || n < 3) { sum += term / (2 * n + 1); n++; term *= -x * x / n; if (n > 200) break; }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
const sig = (x: number): number => 1 / (1 + Math.exp(-x));
const ref: Partial<Record<UnaryOp, (x: number) => number>> = {
  relu: (x) => Math.max(x, 0),
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  geluTanh: (x) => 0.5 * x * (1 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3))),
  quickGelu: (x) => x * sig(1.702 * x),
  silu: (x) => x * sig(x),
  exp: (x) => Math.exp(x),
};

function rand(rt: WasmRuntime, n: number, lo: number, hi: number, seed: number): Float32Array {
  const a = rt.heap.alloc(n).array;
  let s = seed;
  for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) >>> 0; a[i] = lo + (hi - lo) * (s / 2 ** 32); }
  return a;
}

function close(got: Float32Array, want: (i: number) => number, n: number, rel: number, abs: number, what: string): void {
  for (let i = 0; i < n; i++) {
    const w = want(i), g = got[i]!;
    assert.ok(Math.abs(g - w) <= rel * Math.abs(w) + abs, `${what}[${i}]: got ${g}, want ${w}`);
  }
}

test('exp over the whole float32 range of normal results: relative error within 2e-7, -inf and underflow to 0', async () => {
  const rt = await createWasmRuntime({ threads: 1 });
  try {
    // x·log2(e) rounds to n = 128 above 127.5·ln 2 ≈ 88.376, whose 2^n the exponent bits cannot hold: results from there
    // to float32's limit (88.72) come out +inf (left as is; softmax and attention shift their arguments to ≤ 0)
    const n = 1 << 18, x = rt.heap.alloc(n).array, out = rt.heap.alloc(n).array;
    for (let i = 0; i < n; i++) x[i] = -87 + ((88.37 + 87) * i) / (n - 1);
    unary(rt, 'exp', n, x, out);
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(out[i]! - Math.exp(x[i]!)) / Math.exp(x[i]!));
    assert.ok(worst <= 2e-7, `max relative error ${worst}`); // measured 1.17e-7 (Horner and Estrin alike)
    x.set([-Infinity, -87.3, -100, -1e30]);
    unary(rt, 'exp', 4, x, out);
    assert.deepEqual(Array.from(out.subarray(0, 4)), [0, 0, 0, 0]);
  } finally {
    await rt.close();
  }
});

for (const threads of [1, 2]) {
  test(`binary, row-broadcast, scale and activations match JS, threads=${threads}`, async () => {
    const rt = await createWasmRuntime({ threads });
    try {
      for (const n of [1, 3, 4, 37, 70001]) {
        const a = rand(rt, n, -6, 6, n), b = rand(rt, n, 0.5, 3, n + 1), out = rt.heap.alloc(n).array;
        const ops = { add: (x: number, y: number) => x + y, sub: (x: number, y: number) => x - y, mul: (x: number, y: number) => x * y, div: (x: number, y: number) => x / y };
        for (const [op, f] of Object.entries(ops) as Array<[keyof typeof ops, (x: number, y: number) => number]>) {
          binary(rt, op, n, a, b, out);
          close(out, (i) => f(a[i]!, b[i]!), n, 1e-6, 0, `${op} n=${n}`);
        }
        scale(rt, n, a, -0.25, out);
        close(out, (i) => -0.25 * a[i]!, n, 0, 0, 'scale');
        for (const op of Object.keys(ref) as UnaryOp[]) {
          unary(rt, op, n, a, out);
          close(out, (i) => ref[op]!(a[i]!), n, op === 'exp' ? 1e-6 : 2e-6, 3e-7, `${op} n=${n}`);
        }
      }
      const [rows, cols] = [7, 13];
      const m = rand(rt, rows * cols, -1, 1, 5), v = rand(rt, cols, 1, 2, 6), o = rt.heap.alloc(rows * cols).array;
      binaryRow(rt, 'div', rows, cols, m, v, o);
      close(o, (i) => m[i]! / v[i % cols]!, rows * cols, 1e-6, 0, 'binaryRow div');
      const before = m.slice(0, 37);
      binary(rt, 'add', 37, m, m, m); // in place: out aliases both inputs
      close(m, (i) => 2 * before[i]!, 37, 0, 0, 'in-place add');
    } finally {
      await rt.close();
    }
  });
}

test('swiglu forward matches silu(a)·b and backward matches finite differences', async () => {
  const rt = await createWasmRuntime({ threads: 2 });
  try {
    const n = 1031;
    const a = rand(rt, n, -5, 5, 1), b = rand(rt, n, -2, 2, 2), dy = rand(rt, n, -1, 1, 3);
    const out = rt.heap.alloc(n).array, da = rt.heap.alloc(n).array, db = rt.heap.alloc(n).array;
    swiglu(rt, n, a, b, out);
    const f = (x: number, y: number): number => x * sig(x) * y;
    close(out, (i) => f(a[i]!, b[i]!), n, 2e-6, 1e-7, 'swiglu');
    swigluBwd(rt, n, a, b, dy, da, db);
    const h = 1e-4;
    close(da, (i) => dy[i]! * (f(a[i]! + h, b[i]!) - f(a[i]! - h, b[i]!)) / (2 * h), n, 1e-4, 1e-5, 'swiglu da');
    close(db, (i) => dy[i]! * (f(a[i]!, b[i]! + h) - f(a[i]!, b[i]! - h)) / (2 * h), n, 1e-4, 1e-5, 'swiglu db');
  } finally {
    await rt.close();
  }
});

test('adamw follows torch.optim.AdamW over three steps', async () => {
  const rt = await createWasmRuntime({ threads: 2 });
  try {
    const n = 70003;
    const p = rand(rt, n, -1, 1, 11), m = rt.heap.alloc(n).array.fill(0), v = rt.heap.alloc(n).array.fill(0);
    const hp = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
    const rp = Float64Array.from(p), rm = new Float64Array(n), rv = new Float64Array(n);
    for (let step = 1; step <= 3; step++) {
      const g = rand(rt, n, -1, 1, 100 + step);
      adamw(rt, n, p, g, m, v, { ...hp, step });
      for (let i = 0; i < n; i++) {
        rp[i] = rp[i]! * (1 - hp.lr * hp.weightDecay);
        rm[i] = hp.beta1 * rm[i]! + (1 - hp.beta1) * g[i]!;
        rv[i] = hp.beta2 * rv[i]! + (1 - hp.beta2) * g[i]! ** 2;
        rp[i] = rp[i]! - (hp.lr / (1 - hp.beta1 ** step)) * rm[i]! / (Math.sqrt(rv[i]!) / Math.sqrt(1 - hp.beta2 ** step) + hp.eps);
      }
    }
    close(p, (i) => rp[i]!, n, 1e-5, 1e-6, 'adamw p');
    close(m, (i) => rm[i]!, n, 1e-5, 1e-7, 'adamw m');
    // a fourth step with the gradient scaled in the kernel (gradient clipping's coefficient)
    const g = rand(rt, n, -1, 1, 104), gs = 0.37, step = 4;
    adamw(rt, n, p, g, m, v, { ...hp, step, gradScale: gs });
    for (let i = 0; i < n; i++) {
      const gi = g[i]! * gs;
      rp[i] = rp[i]! * (1 - hp.lr * hp.weightDecay);
      rm[i] = hp.beta1 * rm[i]! + (1 - hp.beta1) * gi;
      rv[i] = hp.beta2 * rv[i]! + (1 - hp.beta2) * gi ** 2;
      rp[i] = rp[i]! - (hp.lr / (1 - hp.beta1 ** step)) * rm[i]! / (Math.sqrt(rv[i]!) / Math.sqrt(1 - hp.beta2 ** step) + hp.eps);
    }
    close(p, (i) => rp[i]!, n, 1e-5, 1e-6, 'adamw p, scaled gradient');
    close(v, (i) => rv[i]!, n, 1e-5, 1e-9, 'adamw v, scaled gradient');
    assert.throws(() => adamw(rt, n, p, p, m, v, { ...hp, step: 0 }), /step must be an integer >= 1/);
  } finally {
    await rt.close();
  }
});
