// rope against HF's rotate-half formula written in JS (and its backward as the transpose: ⟨R x, g⟩ = ⟨x, Rᵀ g⟩);
// im2col + sgemm against a direct 2-D convolution loop, with stride, padding, dilation and a conv1d shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWasmRuntime, type WasmRuntime } from './runtime.ts';
import { convOutSize, im2col, rope, type Conv2dGeometry } from './layout.ts';
import { sgemm } from './gemm.ts';

function rand(rt: WasmRuntime, n: number, seed: number): Float32Array {
  const a = rt.heap.alloc(n).array;
  let s = seed;
  for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) >>> 0; a[i] = 2 * (s / 2 ** 32) - 1; }
  return a;
}

for (const threads of [1, 2]) {
  test(`rope forward matches rotate_half and the inverse is its transpose, threads=${threads}`, async () => {
    const rt = await createWasmRuntime({ threads });
    try {
      for (const [B, T, H, D] of [[2, 9, 3, 10], [1, 1, 1, 2], [3, 40, 2, 64]] as const) {
        const n = B * T * H * D, half = D / 2;
        const cos = rt.heap.alloc(T * half).array, sin = rt.heap.alloc(T * half).array;
        for (let t = 0; t < T; t++) for (let i = 0; i < half; i++) {
          const ang = t / 10000 ** ((2 * i) / D);
          cos[t * half + i] = Math.cos(ang); sin[t * half + i] = Math.sin(ang);
        }
        const x = rand(rt, n, 1), g = rand(rt, n, 2), y = rt.heap.alloc(n).array, dx = rt.heap.alloc(n).array;
        rope(rt, B, T, H, D, x, cos, sin, y);
        rope(rt, B, T, H, D, g, cos, sin, dx, true);
        let lhs = 0, rhs = 0;
        for (let r = 0; r < B * T; r++) for (let h = 0; h < H; h++) for (let d = 0; d < D; d++) {
          const t = r % T, i = d % half, base = (r * H + h) * D;
          // HF: q*cos + rotate_half(q)*sin, rotate_half(q) = cat(-q2, q1)
          const rot = d < half ? -x[base + d + half]! : x[base + d - half]!;
          const want = x[base + d]! * cos[t * half + i]! + rot * sin[t * half + i]!;
          assert.ok(Math.abs(y[base + d]! - want) < 1e-6, `rope [${B},${T},${H},${D}] at ${base + d}: ${y[base + d]} vs ${want}`);
          lhs += y[base + d]! * g[base + d]!;
          rhs += x[base + d]! * dx[base + d]!;
        }
        assert.ok(Math.abs(lhs - rhs) < 1e-4 * (1 + Math.abs(lhs)), `rope backward is not the transpose: ${lhs} vs ${rhs}`);
      }
      const a = rt.heap.alloc(8).array;
      assert.throws(() => rope(rt, 1, 1, 1, 3, a, a, a, a), /D=3 must be even/);
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
