// The wider elementwise set against the reference's scalar definitions (src/backend/reference/math.ts): every
// wasm unary op and every derivative (unaryBackward), the column / scalar broadcast (binaryCol) and the strided
// copy of permuted views, at odd lengths (SIMD body + scalar tail) on 1 and 2 threads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWasmRuntime, type WasmRuntime } from './runtime.ts';
import { binaryCol, unary, unaryBackward, type UnaryGradOp, type UnaryOp } from './elementwise.ts';
import { copyStrided } from './layout.ts';
import { unaryDerivative, unaryFn } from '../reference/math.ts';

function rand(rt: WasmRuntime, n: number, lo: number, hi: number, seed: number): Float32Array {
  const a = rt.heap.alloc(n).array;
  let s = seed;
  for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) >>> 0; a[i] = lo + (hi - lo) * (s / 2 ** 32); }
  return a;
}

function close(got: Float32Array, want: (i: number) => number, n: number, tol: number, what: string): void {
  for (let i = 0; i < n; i++) {
    const w = want(i), g = got[i]!;
    assert.ok(Math.abs(g - w) <= tol * (1 + Math.abs(w)), `${what}[${i}]: got ${g}, want ${w}`);
  }
}

const gradOps: UnaryGradOp[] = ['relu', 'gelu', 'geluTanh', 'quickGelu', 'silu', 'exp', 'tanh', 'sigmoid', 'neg', 'square', 'abs'];
const fwdOps: UnaryOp[] = [...gradOps, 'sqrt', 'rsqrt'];

for (const threads of [1, 2]) {
  test(`unary ops and their derivatives match the reference math, threads=${threads}`, async () => {
    const rt = await createWasmRuntime({ threads });
    try {
      for (const n of [1, 7, 37, 70001]) {
        const x = rand(rt, n, -6, 6, n), pos = rand(rt, n, 0.05, 9, n + 1), gy = rand(rt, n, -2, 2, n + 2);
        const out = rt.heap.alloc(n).array;
        for (const op of fwdOps) {
          const xs = op === 'sqrt' || op === 'rsqrt' ? pos : x, f = unaryFn(op);
          unary(rt, op, n, xs, out);
          close(out, (i) => f(xs[i]!), n, 2e-6, `${op} n=${n}`);
        }
        for (const op of gradOps) {
          const df = unaryDerivative(op);
          unaryBackward(rt, op, n, x, gy, out);
          close(out, (i) => gy[i]! * df(x[i]!), n, 4e-6, `${op}' n=${n}`);
        }
      }
      assert.throws(() => unaryBackward(rt, 'sqrt' as UnaryGradOp, 1, rt.heap.alloc(1).array, rt.heap.alloc(1).array, rt.heap.alloc(1).array), /unknown op 'sqrt'/);
    } finally {
      await rt.close();
    }
  });

  test(`column and scalar broadcasts, and strided copies of permuted views, threads=${threads}`, async () => {
    const rt = await createWasmRuntime({ threads });
    try {
      for (const [rows, cols] of [[1, 9], [5, 3], [33, 130]] as const) {
        const a = rand(rt, rows * cols, -2, 2, 1), v = rand(rt, rows, 0.5, 2, 2), out = rt.heap.alloc(rows * cols).array;
        binaryCol(rt, 'div', rows, cols, a, v, out);
        close(out, (i) => a[i]! / v[Math.floor(i / cols)]!, rows * cols, 1e-6, `div column [${rows}, ${cols}]`);
        binaryCol(rt, 'sub', 1, rows * cols, a, v, out);
        close(out, (i) => a[i]! - v[0]!, rows * cols, 1e-6, `sub scalar [${rows}, ${cols}]`);
      }
      // [B, T, H, D] read as [B, H, T, D], a last-two-dims transpose with odd sizes, views of 5 and 6 dims that do not
      // merge (the outer ones walked around the 4-D kernel; the 6-D one is a patchify permute), and a negative stride
      const B = 3, T = 11, H = 5, D = 9, x = rand(rt, B * T * H * D, -1, 1, 3), out = rt.heap.alloc(B * T * H * D).array;
      assert.ok(copyStrided(rt, [B, H, T, D], [T * H * D, D, H * D, 1], x, out));
      close(out, (i) => { const d = i % D, t = Math.floor(i / D) % T, h = Math.floor(i / (D * T)) % H, b = Math.floor(i / (D * T * H)); return x[((b * T + t) * H + h) * D + d]!; },
        B * T * H * D, 0, 'head transpose');
      assert.ok(copyStrided(rt, [B * T, H * D], [1, B * T], x, out));
      close(out, (i) => x[(i % (H * D)) * B * T + Math.floor(i / (H * D))]!, B * T * H * D, 0, 'matrix transpose');
      const gather = (shape: number[], strides: number[]) => (i: number) => {
        let off = 0;
        for (let d = shape.length - 1; d >= 0; d--) { off += (i % shape[d]!) * strides[d]!; i = Math.floor(i / shape[d]!); }
        return x[off]!;
      };
      for (const [shape, strides] of [[[3, 2, 5, 3, 11], [1, 3, 6, 30, 90]], [[2, 3, 2, 3, 5, 4], [360, 40, 4, 120, 8, 1]]]) {
        const n = shape.reduce((a, b) => a * b, 1);
        assert.ok(copyStrided(rt, shape, strides, x, out));
        close(out, gather(shape, strides), n, 0, `${shape.length}-D view [${shape}] strides [${strides}]`);
      }
      assert.equal(copyStrided(rt, [5, 9], [-9, 1], x.subarray(36), out), false);
    } finally {
      await rt.close();
    }
  });
}
