// Convolutions as im2col + matmul (the layout every fast backend wants), and 1-D average pooling.
// conv1d x [B, Cin, L], w [Cout, Cin, K]; conv2d x [B, Cin, H, W], w [Cout, Cin, Kh, Kw]; groups = 1.

import { shapeStr } from '../shape.ts';
import { Tensor } from '../tensor.ts';
import { zeros } from './creation.ts';
import { add } from './elementwise.ts';
import { matmul } from './matmul.ts';
import { contiguous, permute, reshape } from './movement.ts';
import { addSpan, alloc, allocOut, assertFloat, floatStorage, output } from './util.ts';

interface Geometry { C: number; H: number; W: number; kh: number; kw: number; sh: number; sw: number; ph: number; pw: number; oh: number; ow: number }

/** x [B, C, H, W] → columns [B, C·kh·kw, oh·ow]; the backward scatters them back (col2im). */
function im2col(x: Tensor, g: Geometry): Tensor {
  const B = x.shape[0]!, { C, H, W, kh, kw, sh, sw, ph, pw, oh, ow } = g;
  const xs = floatStorage(x), rowsPer = C * kh * kw, cols = oh * ow;
  const out = alloc(x.dtype, [B, rowsPer, cols]) as Float64Array;
  const visit = (f: (src: number, dst: number) => void) => {
    for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
      const r = (c * kh + i) * kw + j;
      for (let y = 0; y < oh; y++) {
        const iy = y * sh - ph + i;
        if (iy < 0 || iy >= H) continue;
        for (let xo = 0; xo < ow; xo++) {
          const ix = xo * sw - pw + j;
          if (ix < 0 || ix >= W) continue;
          f(((b * C + c) * H + iy) * W + ix, (b * rowsPer + r) * cols + y * ow + xo);
        }
      }
    }
  };
  visit((s, d) => { out[d] = xs[s]!; });
  return output(out, x.dtype, [B, rowsPer, cols], [x], 'im2col', (gr) => {
    const gx = zeros(x.shape, x.dtype), gd = floatStorage(gx), gg = floatStorage(contiguous(gr));
    visit((s, d) => { gd[s] = gd[s]! + gg[d]!; });
    return [gx];
  });
}

function convCore(x4: Tensor, w: Tensor, bias: Tensor | null | undefined, g: Geometry): Tensor {
  const B = x4.shape[0]!, Cout = w.shape[0]!;
  if (g.sh === g.kh && g.sw === g.kw && g.ph === 0 && g.pw === 0 && g.H === g.oh * g.kh && g.W === g.ow * g.kw) {
    // patchify (ViT patch embeddings): the patches are a permuted view of x, so one strided copy (a backend
    // kernel) replaces the element-by-element im2col
    const patches = reshape(permute(reshape(x4, [B, g.C, g.oh, g.kh, g.ow, g.kw]), [0, 2, 4, 1, 3, 5]), [B, g.oh * g.ow, g.C * g.kh * g.kw]);
    let y = matmul(patches, permute(reshape(w, [Cout, -1]), [1, 0])); // [B, oh·ow, Cout]
    if (bias) y = add(y, bias);
    return permute(reshape(y, [B, g.oh, g.ow, Cout]), [0, 3, 1, 2]);
  }
  const cols = im2col(contiguous(x4), g); // [B, C·kh·kw, oh·ow]
  let y = matmul(reshape(w, [Cout, -1]), cols); // [B, Cout, oh·ow]
  if (bias) y = add(y, reshape(bias, [Cout, 1]));
  return reshape(y, [B, Cout, g.oh, g.ow]);
}

export interface ConvOptions { stride?: number | [number, number]; padding?: number | [number, number] }

const pair = (v: number | [number, number] | undefined, d: number): [number, number] =>
  v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v;

export function conv2d(x: Tensor, w: Tensor, bias?: Tensor | null, opts: ConvOptions = {}): Tensor {
  assertFloat(x, 'conv2d');
  if (x.ndim !== 4 || w.ndim !== 4 || x.shape[1] !== w.shape[1]) throw new Error(`conv2d: input ${shapeStr(x.shape)} and weight ${shapeStr(w.shape)} do not fit`);
  const [sh, sw] = pair(opts.stride, 1), [ph, pw] = pair(opts.padding, 0);
  const [, C, H, W] = x.shape as [number, number, number, number];
  const kh = w.shape[2]!, kw = w.shape[3]!;
  const oh = Math.floor((H + 2 * ph - kh) / sh) + 1, ow = Math.floor((W + 2 * pw - kw) / sw) + 1;
  if (oh <= 0 || ow <= 0) throw new Error(`conv2d: kernel ${kh}x${kw} larger than padded input ${H}x${W}`);
  return convCore(x, w, bias, { C, H, W, kh, kw, sh, sw, ph, pw, oh, ow });
}

export function conv1d(x: Tensor, w: Tensor, bias?: Tensor | null, opts: { stride?: number; padding?: number } = {}): Tensor {
  assertFloat(x, 'conv1d');
  if (x.ndim !== 3 || w.ndim !== 3 || x.shape[1] !== w.shape[1]) throw new Error(`conv1d: input ${shapeStr(x.shape)} and weight ${shapeStr(w.shape)} do not fit`);
  const [B, C, L] = x.shape as [number, number, number];
  const K = w.shape[2]!, s = opts.stride ?? 1, p = opts.padding ?? 0;
  const ol = Math.floor((L + 2 * p - K) / s) + 1;
  if (ol <= 0) throw new Error(`conv1d: kernel ${K} larger than padded input ${L}`);
  const Cout = w.shape[0]!;
  // time-major rows [B, L, C]: output step t reads rows t·s − p … t·s − p + K − 1 (zeros outside), which side by
  // side are its column [K·C]; the weight is laid out in the same (tap, channel) order
  const rows = contiguous(permute(x, [0, 2, 1]));
  let y = matmul(unfoldRows(rows, K, s, p, ol), permute(reshape(contiguous(permute(w, [0, 2, 1])), [Cout, K * C]), [1, 0])); // [B, ol, Cout]
  if (bias) y = add(y, bias);
  return contiguous(permute(y, [0, 2, 1]));
}

/**
 * rows [B, L, C] contiguous → [B, ol, K·C]: output t holds rows t·s − p … t·s − p + K − 1, zero where they fall
 * outside 0..L (the padding). Row copies; the backward adds the rows back.
 */
function unfoldRows(rows: Tensor, K: number, s: number, p: number, ol: number): Tensor {
  const [B, L, C] = rows.shape as [number, number, number];
  const src = floatStorage(rows), out = (p > 0 ? alloc : allocOut)(rows.dtype, [B, ol, K * C]) as Float64Array;
  // rows lo..hi of input b land in output t from tap lo − r0 on
  const each = (f: (b: number, t: number, lo: number, hi: number, at: number) => void) => {
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < ol; t++) {
        const r0 = t * s - p, lo = Math.max(0, r0), hi = Math.min(L, r0 + K);
        if (hi > lo) f(b, t, lo, hi, ((b * ol + t) * K + lo - r0) * C);
      }
    }
  };
  each((b, _t, lo, hi, at) => out.set(src.subarray((b * L + lo) * C, (b * L + hi) * C), at));
  return output(out, rows.dtype, [B, ol, K * C], [rows], 'unfoldRows', (g) => {
    const gx = zeros(rows.shape, rows.dtype), gd = floatStorage(gx), gg = floatStorage(contiguous(g));
    each((b, _t, lo, hi, at) => addSpan(gd, (b * L + lo) * C, gg, at, (hi - lo) * C));
    return [gx];
  });
}

/** x [B, C, L] → [B, C, floor((L − k)/s) + 1], mean over each window (torch avg_pool1d, no padding). */
export function avgPool1d(x: Tensor, kernelSize: number, stride = kernelSize): Tensor {
  assertFloat(x, 'avgPool1d');
  const [B, C, L] = x.shape as [number, number, number];
  const ol = Math.floor((L - kernelSize) / stride) + 1;
  if (ol <= 0) throw new Error(`avgPool1d: kernel ${kernelSize} larger than input ${L}`);
  const xc = contiguous(x), xs = floatStorage(xc);
  const out = allocOut(x.dtype, [B, C, ol]) as Float64Array;
  for (let r = 0; r < B * C; r++) for (let o = 0; o < ol; o++) {
    let s = 0;
    for (let k = 0; k < kernelSize; k++) s += xs[r * L + o * stride + k]!;
    out[r * ol + o] = s / kernelSize;
  }
  return output(out, x.dtype, [B, C, ol], [xc], 'avgPool1d', (g) => {
    const gx = zeros(x.shape, x.dtype), gd = floatStorage(gx), gg = floatStorage(contiguous(g));
    for (let r = 0; r < B * C; r++) for (let o = 0; o < ol; o++) {
      for (let k = 0; k < kernelSize; k++) gd[r * L + o * stride + k] = gd[r * L + o * stride + k]! + gg[r * ol + o]! / kernelSize;
    }
    return [gx];
  });
}

export { permute, Tensor };
