// Movement ops: views that share storage (reshape of contiguous data, permute, transpose, slice, expand,
// squeeze/unsqueeze) and copies (contiguous, concat, split, pad, gather, indexSelect). Each is differentiable.

import { kernel } from '../../backend/registry.ts';
import { rows2 } from '../../backend/reference/iter.ts';
import { broadcastStrides, contiguousStrides, normAxis, numel, shapeStr, type Shape } from '../shape.ts';
import { Tensor } from '../tensor.ts';
import { zeros } from './creation.ts';
import { addSpan, alloc, allocOut, anyView, output, viewOf } from './util.ts';
import type { WindowGrad } from '../autograd.ts';
import type { FloatStorage } from '../dtype.ts';
import { sum } from './reduce.ts';

export function contiguous(x: Tensor): Tensor {
  if (x.isContiguous) return x;
  const out = allocOut(x.dtype, x.shape);
  kernel('copy', x.dtype)(anyView(x), out);
  return output(out, x.dtype, x.shape, [x], 'contiguous', (g) => [g]);
}

export function reshape(x: Tensor, shapeIn: Shape): Tensor {
  const shape = [...shapeIn];
  const infer = shape.indexOf(-1);
  if (infer >= 0) {
    const known = shape.reduce((p, d, i) => (i === infer ? p : p * d), 1);
    shape[infer] = known === 0 ? 0 : x.size / known;
  }
  if (numel(shape) !== x.size || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`cannot reshape ${shapeStr(x.shape)} (${x.size} elements) to ${shapeStr(shapeIn)}`);
  }
  const src = x.isContiguous ? x : contiguous(x);
  return viewOf(src, shape, contiguousStrides(shape), src.offset, 'reshape', (g) => [reshape(g, x.shape)]);
}

export const flatten = (x: Tensor, start = 0, end = -1): Tensor => {
  const s = normAxis(start, Math.max(1, x.ndim)), e = normAxis(end, Math.max(1, x.ndim));
  return reshape(x, [...x.shape.slice(0, s), numel(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
};

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== x.ndim) throw new Error(`permute: ${dims.length} dims given for a ${x.ndim}-d tensor`);
  const d = dims.map((a) => normAxis(a, x.ndim));
  if (new Set(d).size !== d.length) throw new Error(`permute: repeated dims [${dims.join(', ')}]`);
  const inv = new Array<number>(d.length);
  d.forEach((a, i) => { inv[a] = i; });
  return viewOf(x, d.map((a) => x.shape[a]!), d.map((a) => x.strides[a]!), x.offset, 'permute', (g) => [permute(g, inv)]);
}

export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const dims = [...x.shape.keys()];
  const i = normAxis(a, x.ndim), j = normAxis(b, x.ndim);
  [dims[i], dims[j]] = [dims[j]!, dims[i]!];
  return permute(x, dims);
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normAxis(axis, x.ndim + 1);
  const shape = [...x.shape], strides = [...x.strides];
  shape.splice(a, 0, 1);
  strides.splice(a, 0, (x.strides[a] ?? 1) * (x.shape[a] ?? 1));
  return viewOf(x, shape, strides, x.offset, 'unsqueeze', (g) => [reshape(g, x.shape)]);
}

export function squeeze(x: Tensor, axis?: number): Tensor {
  const keep = x.shape.map((d, i) => (axis === undefined ? d !== 1 : i !== normAxis(axis, x.ndim) || d !== 1));
  return viewOf(x, x.shape.filter((_, i) => keep[i]), x.strides.filter((_, i) => keep[i]), x.offset, 'squeeze',
    (g) => [reshape(g, x.shape)]);
}

/** Elements start..end-1 (step `step`) along axis, as a view. Negative start/end count from the end. */
export function slice(x: Tensor, axis: number, start: number, end?: number, step = 1): Tensor {
  const a = normAxis(axis, x.ndim), n = x.shape[a]!;
  if (!Number.isInteger(step) || step < 1) throw new Error(`slice: step must be a positive integer, got ${step}`);
  const clamp = (v: number) => Math.min(n, Math.max(0, v < 0 ? v + n : v));
  const s = clamp(start), e = Math.max(s, clamp(end ?? n));
  const len = Math.ceil((e - s) / step);
  const shape = [...x.shape], strides = [...x.strides];
  shape[a] = len;
  strides[a] = x.strides[a]! * step;
  // backward() gathers every window of x at once (GradFn.window) rather than calling the rule per slice
  const window = { axis: a, start: s, step };
  return viewOf(x, shape, strides, x.offset + s * x.strides[a]!, 'slice', (g) => [gatherWindows(x, [{ grad: g, ...window }])], window);
}

/**
 * x's gradient from the gradients of slices of it: one concat where step-1 windows along one axis tile x (q, k, v
 * of a fused projection), else zeros with each window added in (row copies where both are contiguous).
 */
export function gatherWindows(x: Tensor, windows: readonly WindowGrad[]): Tensor {
  const a = windows[0]!.axis, dtype = windows[0]!.grad.dtype;
  if (windows.every((w) => w.axis === a && w.step === 1 && w.grad.dtype === dtype)) {
    const sorted = [...windows].sort((p, q) => p.start - q.start);
    let at = 0;
    for (const w of sorted) at = w.start === at ? at + w.grad.shape[a]! : -1;
    if (at === x.shape[a]) return concat(sorted.map((w) => w.grad), a);
  }
  const gx = zeros(x.shape, dtype);
  for (const w of windows) {
    const dstStrides = [...gx.strides];
    dstStrides[w.axis] = gx.strides[w.axis]! * w.step;
    const g = w.grad.dtype === dtype ? w.grad : w.grad.to(dtype);
    if (windows.length === 1) copyWindow(g, gx.storage as Float64Array, dstStrides, w.start * gx.strides[w.axis]!);
    else addWindow(g, gx.storage as FloatStorage, dstStrides, w.start * gx.strides[w.axis]!);
  }
  return gx;
}

/** Adds x into the window of `dst` at `offset` with `strides` (x's shape), one row at a time (windows may overlap). */
function addWindow(x: Tensor, dst: FloatStorage, strides: readonly number[], offset: number): void {
  const s = x.storage as FloatStorage;
  rows2(x.shape, x.strides, x.offset, strides, offset, (_i, ps, pd, n, ds, dd) => {
    if (ds === 1 && dd === 1) addSpan(dst, pd, s, ps, n);
    else for (let j = 0; j < n; j++) dst[pd + j * dd] = dst[pd + j * dd]! + s[ps + j * ds]!;
  });
}

/** Copies x into the window of `dst` at `offset` with `strides` (x's shape), one row at a time. */
function copyWindow(x: Tensor, dst: Float64Array, strides: readonly number[], offset: number): void {
  const s = x.storage as Float64Array;
  rows2(x.shape, x.strides, x.offset, strides, offset, (_i, ps, pd, n, ds, dd) => {
    if (ds === 1 && dd === 1) dst.set(s.subarray(ps, ps + n), pd);
    else for (let j = 0; j < n; j++) dst[pd + j * dd] = s[ps + j * ds]!;
  });
}

/** Broadcasts x to `shape` without copying (stride 0 along stretched dims). -1 keeps a dim. */
export function expand(x: Tensor, shapeIn: Shape): Tensor {
  const off = shapeIn.length - x.ndim;
  const shape = shapeIn.map((d, i) => (d === -1 ? x.shape[i - off]! : d));
  const strides = broadcastStrides(x.shape, x.strides, shape);
  return viewOf(x, shape, strides, x.offset, 'expand', (g) => {
    const axes: number[] = [];
    for (let i = 0; i < shape.length; i++) if (i < off || (x.shape[i - off] === 1 && shape[i] !== 1)) axes.push(i);
    return [reshape(axes.length ? sum(g, axes, true) : g, x.shape)];
  });
}

export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error('concat: no tensors');
  const first = xs[0]!;
  const a = normAxis(axis, first.ndim);
  for (const x of xs) {
    if (x.ndim !== first.ndim || x.dtype !== first.dtype || x.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new Error(`concat: ${x.toString()} does not match ${first.toString()} outside axis ${a}`);
    }
  }
  const shape = [...first.shape];
  shape[a] = xs.reduce((p, x) => p + x.shape[a]!, 0);
  const out = allocOut(first.dtype, shape);
  const ostr = contiguousStrides(shape);
  let at = 0;
  for (const x of xs) {
    copyWindow(x, out as Float64Array, ostr, at * ostr[a]!);
    at += x.shape[a]!;
  }
  return output(out, first.dtype, shape, xs, 'concat', (g) => {
    let start = 0;
    return xs.map((x) => {
      const part = slice(g, a, start, start + x.shape[a]!);
      start += x.shape[a]!;
      return x.requiresGrad ? contiguous(part) : null;
    });
  });
}

export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  return concat(xs.map((x) => unsqueeze(x, axis)), axis);
}

/** Splits along axis into pieces of the given sizes (or equal pieces of `sizes` elements). */
export function split(x: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  const a = normAxis(axis, x.ndim), n = x.shape[a]!;
  const list = typeof sizes === 'number' ? Array.from({ length: Math.ceil(n / sizes) }, (_, i) => Math.min(sizes, n - i * sizes)) : sizes;
  if (list.reduce((p, s) => p + s, 0) !== n) throw new Error(`split: sizes [${list.join(', ')}] do not add up to ${n}`);
  let at = 0;
  return list.map((s) => { const t = slice(x, a, at, at + s); at += s; return t; });
}

/** Constant padding; `pads` lists [before, after] per dim starting from the last dim, as torch.nn.functional.pad. */
export function pad(x: Tensor, pads: readonly number[], value = 0): Tensor {
  if (pads.length % 2 || pads.length / 2 > x.ndim) throw new Error(`pad: bad padding [${pads.join(', ')}] for ${x.ndim} dims`);
  const shape = [...x.shape];
  const before = new Array<number>(x.ndim).fill(0);
  for (let i = 0; i < pads.length / 2; i++) {
    const d = x.ndim - 1 - i;
    before[d] = pads[2 * i]!;
    shape[d] = shape[d]! + pads[2 * i]! + pads[2 * i + 1]!;
    if (pads[2 * i]! < 0 || pads[2 * i + 1]! < 0) throw new Error('pad: negative padding is not supported');
  }
  const out = alloc(x.dtype, shape) as Float64Array;
  if (value !== 0) out.fill(value);
  const ostr = contiguousStrides(shape);
  const off = before.reduce((p, b, i) => p + b * ostr[i]!, 0);
  copyWindow(x, out, ostr, off);
  return output(out, x.dtype, shape, [x], 'pad', (g) => {
    let t = g;
    for (let d = 0; d < x.ndim; d++) if (shape[d] !== x.shape[d]) t = slice(t, d, before[d]!, before[d]! + x.shape[d]!);
    return [contiguous(t)];
  });
}

/** Reads integer ids (int32/int64/bool/float) as plain numbers. */
export function indexValues(ids: Tensor): number[] {
  return Array.from(ids.toFloat64());
}

/** Rows of x along axis picked by a 1-D index tensor (torch.index_select). */
export function indexSelect(x: Tensor, axis: number, ids: Tensor): Tensor {
  const a = normAxis(axis, x.ndim), n = x.shape[a]!;
  const idx = indexValues(ids);
  for (const i of idx) if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`indexSelect: index ${i} out of range [0, ${n})`);
  const shape = [...x.shape];
  shape[a] = idx.length;
  const parts = idx.map((i) => slice(x, a, i, i + 1));
  if (parts.length === 0) return zeros(shape, x.dtype);
  const out = concat(parts.map((p) => contiguous(p)), a);
  return out;
}

/** torch.gather: out[i][j][k] = x[i][ids[i][j][k]][k] for axis 1 (ids has x's rank). */
export function gather(x: Tensor, axis: number, ids: Tensor): Tensor {
  const a = normAxis(axis, x.ndim);
  if (ids.ndim !== x.ndim) throw new Error(`gather: index rank ${ids.ndim} != input rank ${x.ndim}`);
  const idx = indexValues(ids);
  const shape = ids.shape;
  const out = allocOut(x.dtype, shape) as Float64Array;
  const istr = contiguousStrides(shape);
  const positions = new Int32Array(idx.length);
  const s = x.storage as Float64Array;
  for (let i = 0; i < idx.length; i++) {
    let rem = i, pos = x.offset;
    for (let d = 0; d < shape.length; d++) {
      const c = Math.floor(rem / istr[d]!);
      rem -= c * istr[d]!;
      const coord = d === a ? idx[i]! : c;
      if (d !== a && c >= x.shape[d]!) throw new Error(`gather: index shape ${shapeStr(shape)} exceeds input ${shapeStr(x.shape)}`);
      if (d === a && (coord < 0 || coord >= x.shape[a]! || !Number.isInteger(coord))) throw new Error(`gather: index ${coord} out of range [0, ${x.shape[a]})`);
      pos += coord * x.strides[d]!;
    }
    positions[i] = pos;
    out[i] = s[pos]!;
  }
  return output(out, x.dtype, shape, [x], 'gather', (g) => {
    const gx = zeros(x.shape, g.dtype);
    const gd = gx.storage as Float64Array, gg = contiguous(g).toArray() as Float64Array;
    const xstr = contiguousStrides(x.shape);
    for (let i = 0; i < positions.length; i++) {
      // map the storage position back to the contiguous layout of gx
      let rem = i, pos = 0;
      for (let d = 0; d < shape.length; d++) {
        const c = Math.floor(rem / istr[d]!);
        rem -= c * istr[d]!;
        pos += (d === a ? idx[i]! : c) * xstr[d]!;
      }
      gd[pos] = gd[pos]! + gg[i]!;
    }
    return [gx];
  });
}

export { Tensor };
