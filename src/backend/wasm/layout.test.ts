// rope against the reference kernel (forward and inverse, partial rotary, per-sequence tables) and as a rotation;
// im2col + sgemm against a direct 2-D convolution loop, with stride, padding, dilation and a conv1d shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWasmRuntime, type WasmRuntime } from './runtime.ts';
import { convOutSize, im2col, rope, type Conv2dGeometry } from './layout.ts';
import { sgemm } from './gemm.ts';
import { referenceKernels } from '../reference/index.ts';

function rand(rt: WasmRuntime, n: number, seed: number): Float32Array {
  const a = rt.heap.alloc(n).array;
  let s = seed;
  for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) >>> 0; a[i] = 2 * (s / 2 ** 32) - 1; }
  return a;
}

for (const threads of [1, 2]) {
  test(`rope equals the reference kernel (partial rotary, shared and per-sequence tables) and inverts, threads=${threads}`, async () => {
    const rt = await createWasmRuntime({ threads });
    try {
      for (const [rows, heads, D, R, tableRows] of [[18, 3, 10, 10, 9], [1, 1, 2, 2, 1], [120, 2, 64, 32, 40], [7, 3, 16, 12, 7]] as const) {
        const n = rows * heads * D;
        const cos = rand(rt, tableRows * R, 3), sin = rand(rt, tableRows * R, 4);
        const x = rand(rt, n, 1), y = rt.heap.alloc(n).array, back = rt.heap.alloc(n).array;
        for (const inverse of [false, true]) {
          const s = { rows, heads, headDim: D, rotary: R, tableRows, inverse };
          const want = new Float32Array(n);
          referenceKernels.rope(x, cos, sin, s, want);
          rope(rt, s, x, cos, sin, y);
          for (let i = 0; i < n; i++) assert.ok(Math.abs(y[i]! - want[i]!) < 1e-6, `rope ${JSON.stringify(s)} at ${i}: ${y[i]} vs ${want[i]}`);
        }
        // with a true rotation (cos² + sin² = 1, equal halves) the inverse undoes the forward, in place
        for (let t = 0; t < tableRows; t++) for (let i = 0; i < R / 2; i++) {
          const ang = t / 10000 ** ((2 * i) / R);
          cos[t * R + i] = cos[t * R + i + R / 2] = Math.cos(ang);
          sin[t * R + i] = sin[t * R + i + R / 2] = Math.sin(ang);
        }
        back.set(x);
        rope(rt, { rows, heads, headDim: D, rotary: R, tableRows, inverse: false }, back, cos, sin, back);
        rope(rt, { rows, heads, headDim: D, rotary: R, tableRows, inverse: true }, back, cos, sin, back);
        for (let i = 0; i < n; i++) assert.ok(Math.abs(back[i]! - x[i]!) < 1e-5, `rope inverse at ${i}: ${back[i]} vs ${x[i]}`);
      }
      const a = rt.heap.alloc(8).array;
      assert.throws(() => rope(rt, { rows: 1, heads: 1, headDim: 4, rotary: 3, tableRows: 1, inverse: false }, a, a, a, a), /rotary=3 must be even/);
    } finally {
      await rt.close();
    }
  });

  test(`im2col + sgemm equals a direct convolution, threads=${threads}`, async () => {
    const rt = await createWasmRuntime({ threads });
    try {
      const geoms: Conv2dGeometry[] = [
        { C: 3, IH: 11, IW: 9, KH: 3, KW: 3, strideH: 2, strideW: 1, padH: 1, padW: 2 },
        { C: 2, IH: 16, IW: 16, KH: 4, KW: 4, strideH: 4, strideW: 4, padH: 0, padW: 0 }, // ViT patchify
        { C: 5, IH: 1, IW: 50, KH: 1, KW: 3, strideH: 1, strideW: 2, padH: 0, padW: 1 }, // Whisper conv1d
        { C: 2, IH: 7, IW: 8, KH: 2, KW: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, dilationH: 2, dilationW: 3 },
      ];
      for (const g of geoms) {
        const O = 4, [OH, OW] = convOutSize(g), kk = g.C * g.KH * g.KW;
        const x = rand(rt, g.C * g.IH * g.IW, 3), w = rand(rt, O * kk, 4);
        const col = rt.heap.alloc(kk * OH * OW).array, y = rt.heap.alloc(O * OH * OW).array;
        assert.deepEqual(im2col(rt, g, x, col), [OH, OW]);
        sgemm(rt, false, false, O, OH * OW, kk, 1, w, kk, col, OH * OW, 0, y, OH * OW);
        const dh = g.dilationH ?? 1, dw = g.dilationW ?? 1;
        for (let o = 0; o < O; o++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
          let s = 0;
          for (let c = 0; c < g.C; c++) for (let ki = 0; ki < g.KH; ki++) for (let kj = 0; kj < g.KW; kj++) {
            const iy = oy * g.strideH - g.padH + ki * dh, ix = ox * g.strideW - g.padW + kj * dw;
            if (iy < 0 || iy >= g.IH || ix < 0 || ix >= g.IW) continue;
            s += w[o * kk + (c * g.KH + ki) * g.KW + kj]! * x[(c * g.IH + iy) * g.IW + ix]!;
          }
          assert.ok(Math.abs(y[(o * OH + oy) * OW + ox]! - s) < 1e-5, `conv at o=${o} y=${oy} x=${ox}`);
        }
      }
      const a = rt.heap.alloc(8).array;
      assert.throws(() => im2col(rt, { C: 1, IH: 2, IW: 2, KH: 3, KW: 3, strideH: 1, strideW: 1, padH: 0, padW: 0 }, a, a), /empty output/);
    } finally {
      await rt.close();
    }
  });
}
