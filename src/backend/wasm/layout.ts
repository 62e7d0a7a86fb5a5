// Data-movement kernels of the wasm backend (assembly/layout.ts): rotary position embedding in HF's
// rotate-half form, forward and backward, and im2col for conv1d/conv2d (convolution = im2col + sgemm).
import { ptrOf, splitRange, type WasmRuntime } from './runtime.ts';

type F32 = Float32Array;

/**
 * x, out [B, T, H, D]; cos, sin [T, D/2] (the half tables; HF's [T, D] tables repeat them twice).
 * inverse = true applies the transposed rotation, which is the backward (dx from dout).
 */
export function rope(rt: WasmRuntime, B: number, T: number, H: number, D: number, x: F32, cos: F32, sin: F32, out: F32, inverse = false): void {
  if (D % 2 !== 0) throw new Error(`rope: head dim D=${D} must be even`);
  const n = B * T * H * D, k = 'rope';
  const px = ptrOf(rt, k, 'x', x, n), pc = ptrOf(rt, k, 'cos', cos, (T * D) / 2), ps = ptrOf(rt, k, 'sin', sin, (T * D) / 2);
  const po = ptrOf(rt, k, 'out', out, n);
  rt.pool.run(k, splitRange(rt, B * T, 1, n * 8).map(([r0, r1]) => [r0, r1, T, H, D, px, pc, ps, inverse ? -1 : 1, po]));
}

export interface Conv2dGeometry {
  C: number; IH: number; IW: number;
  KH: number; KW: number;
  strideH: number; strideW: number;
  padH: number; padW: number;
  dilationH?: number; dilationW?: number;
}

/** Output size [OH, OW] of a convolution with this geometry. */
export function convOutSize(g: Conv2dGeometry): [number, number] {
  const dh = g.dilationH ?? 1, dw = g.dilationW ?? 1;
  return [Math.floor((g.IH + 2 * g.padH - dh * (g.KH - 1) - 1) / g.strideH) + 1, Math.floor((g.IW + 2 * g.padW - dw * (g.KW - 1) - 1) / g.strideW) + 1];
}

/**
 * One image x [C, IH, IW] → col [C·KH·KW, OH·OW]; conv2d is then W[O, C·KH·KW] · col (sgemm).
 * conv1d is IH = KH = 1, padH = 0.
 */
export function im2col(rt: WasmRuntime, g: Conv2dGeometry, x: F32, col: F32): [number, number] {
  const [OH, OW] = convOutSize(g);
  if (OH < 1 || OW < 1) throw new Error(`im2col: empty output ${OH}×${OW} for input ${g.IH}×${g.IW}, kernel ${g.KH}×${g.KW}`);
  const k = 'im2col';
  const px = ptrOf(rt, k, 'x', x, g.C * g.IH * g.IW), pcol = ptrOf(rt, k, 'col', col, g.C * g.KH * g.KW * OH * OW);
  const chunks = splitRange(rt, g.C, 1, g.C * g.KH * g.KW * OH * OW * 8);
  rt.pool.run(k, chunks.map(([c0, c1]) => [c0, c1, g.IH, g.IW, g.KH, g.KW, g.strideH, g.strideW, g.padH, g.padW,
    g.dilationH ?? 1, g.dilationW ?? 1, OH, OW, px, pcol]));
  return [OH, OW];
}
