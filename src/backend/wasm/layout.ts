// Data-movement kernels of the wasm backend (assembly/layout.ts): rotary position embedding in HF's
// rotate-half form, forward and backward; strided copies (permutations made contiguous); and im2col for
// conv1d/conv2d (convolution = im2col + sgemm).
import { ptrOf, splitRange, type WasmRuntime } from './runtime.ts';

type F32 = Float32Array;

export interface RopeShape {
  /** rows of x (B·T) */
  rows: number;
  heads: number;
  headDim: number;
  /** rotated channels per head (even, ≤ headDim); the rest are copied */
  rotary: number;
  /** rows of the cos/sin tables; row r of x uses table row r % tableRows */
  tableRows: number;
  /** the transposed rotation, which is the backward (dx from dout) */
  inverse: boolean;
}

/** x, out [rows, heads, headDim]; cos, sin [tableRows, rotary] (HF's full-width tables). out may alias x. */
export function rope(rt: WasmRuntime, s: RopeShape, x: F32, cos: F32, sin: F32, out: F32): void {
  const { rows, heads, headDim: D, rotary: R, tableRows } = s;
  if (R % 2 !== 0 || R < 0 || R > D) throw new Error(`rope: rotary=${R} must be even and at most headDim=${D}`);
  if (!Number.isInteger(tableRows) || tableRows < 1) throw new Error(`rope: tableRows must be a positive integer, got ${tableRows}`);
  const n = rows * heads * D, k = 'rope';
  const px = ptrOf(rt, k, 'x', x, n), pc = ptrOf(rt, k, 'cos', cos, tableRows * R), ps = ptrOf(rt, k, 'sin', sin, tableRows * R);
  const po = ptrOf(rt, k, 'out', out, n);
  rt.pool.run(k, splitRange(rt, rows, 1, n * 8).map(([r0, r1]) => [r0, r1, heads, D, R, tableRows, px, pc, ps, s.inverse ? 1 : 0, po]));
}

/**
 * out = the strided view (shape, strides in floats, offset 0 of src) laid out contiguously, for views that
 * reduce to at most 4 dims after dropping size-1 dims and merging contiguous ones (head transposes
 * [B, T, H, D] ↔ [B, H, T, D], last-two-dims transposes). Returns false (nothing written) for other views.
 */
export function copyStrided(rt: WasmRuntime, shape: readonly number[], strides: readonly number[], src: F32, out: F32): boolean {
  const dims: Array<[number, number]> = [];
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    const last = dims[dims.length - 1];
    if (last && last[1] === strides[i]! * shape[i]!) { last[0] *= shape[i]!; last[1] = strides[i]!; } else dims.push([shape[i]!, strides[i]!]);
  }
  if (dims.some(([, st]) => st < 0)) return false;
  if (dims.length <= 4) return copy4(rt, dims, src, out);
  // more than 4 dims that do not merge (a patchify permute [B, gh, gw, C, ph, pw]): the kernel copies the inner
  // four, this loop walks the outer ones
  const outer = dims.slice(0, dims.length - 4), inner = dims.slice(dims.length - 4);
  const innerN = inner.reduce((n, [m]) => n * m, 1), count = outer.reduce((n, [m]) => n * m, 1);
  if (innerN === 0 || count === 0) return true;
  const idx = new Array<number>(outer.length).fill(0);
  let from = 0;
  for (let c = 0; c < count; c++) {
    copy4(rt, inner, src.subarray(from), out.subarray(c * innerN, (c + 1) * innerN));
    for (let d = outer.length - 1; d >= 0; d--) {
      idx[d]!++;
      from += outer[d]![1];
      if (idx[d]! < outer[d]![0]) break;
      from -= idx[d]! * outer[d]![1];
      idx[d] = 0;
    }
  }
  return true;
}

/** The kernel's copy of up to four (merged, non-negative) dims [size, stride]. */
function copy4(rt: WasmRuntime, dims: Array<[number, number]>, src: F32, out: F32): boolean {
  dims = [...dims];
  while (dims.length < 4) dims.unshift([1, 0]);
  const [[n0, s0], [n1, s1], [n2, s2], [n3, s3]] = dims as [[number, number], [number, number], [number, number], [number, number]];
  const n = n0 * n1 * n2 * n3, k = 'copyStrided';
  if (n === 0) return true;
  let span = 1;
  for (const [m, st] of dims) span += (m - 1) * st;
  const ps = ptrOf(rt, k, 'src', src, span), po = ptrOf(rt, k, 'out', out, n);
  rt.pool.run(k, splitRange(rt, n0 * n1, 1, n * 8).map(([i0, i1]) => [i0, i1, n1, n2, n3, s0, s1, s2, s3, ps, po]));
  return true;
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
