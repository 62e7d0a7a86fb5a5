// Strided iteration helpers shared by the reference kernels: walk a shape in row-major order while tracking
// the storage position in one or two strided views.

import type { Shape } from '../../tensor/shape.ts';
import { numel } from '../../tensor/shape.ts';

/** fn(i, pa) for element i (row-major) at storage position pa. */
export function walk1(shape: Shape, sa: readonly number[], oa: number, fn: (i: number, pa: number) => void): void {
  const n = numel(shape);
  if (n === 0) return;
  const nd = shape.length;
  if (nd === 0) { fn(0, oa); return; }
  const last = nd - 1, lastDim = shape[last]!, lsa = sa[last]!;
  const idx = new Array<number>(nd).fill(0);
  let pa = oa;
  for (let i = 0; i < n; i += lastDim) {
    for (let j = 0; j < lastDim; j++) fn(i + j, pa + j * lsa);
    for (let d = last - 1; d >= 0; d--) {
      idx[d]!++;
      pa += sa[d]!;
      if (idx[d]! < shape[d]!) break;
      pa -= sa[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

/** fn(i, pa, pb) for element i with positions in two strided views of the same shape. */
export function walk2(shape: Shape, sa: readonly number[], oa: number, sb: readonly number[], ob: number,
  fn: (i: number, pa: number, pb: number) => void): void {
  const n = numel(shape);
  if (n === 0) return;
  const nd = shape.length;
  if (nd === 0) { fn(0, oa, ob); return; }
  const last = nd - 1, lastDim = shape[last]!, lsa = sa[last]!, lsb = sb[last]!;
  const idx = new Array<number>(nd).fill(0);
  let pa = oa, pb = ob;
  for (let i = 0; i < n; i += lastDim) {
    for (let j = 0; j < lastDim; j++) fn(i + j, pa + j * lsa, pb + j * lsb);
    for (let d = last - 1; d >= 0; d--) {
      idx[d]!++;
      pa += sa[d]!;
      pb += sb[d]!;
      if (idx[d]! < shape[d]!) break;
      pa -= sa[d]! * shape[d]!;
      pb -= sb[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

/**
 * The shape with dims of size 1 dropped and neighbouring dims merged wherever both views step through them as
 * one (stride[d-1] = stride[d]·shape[d]), so a contiguous or broadcast-row view walks as one long row.
 * The row-major element order is unchanged.
 */
export function coalesce(shape: Shape, sa: readonly number[], sb: readonly number[]): { shape: number[]; sa: number[]; sb: number[] } {
  const dims: number[] = [], as: number[] = [], bs: number[] = [];
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d]!;
    if (n === 1) continue;
    const k = dims.length - 1;
    if (k >= 0 && as[k] === sa[d]! * n && bs[k] === sb[d]! * n) {
      dims[k] = dims[k]! * n;
      as[k] = sa[d]!;
      bs[k] = sb[d]!;
    } else {
      dims.push(n);
      as.push(sa[d]!);
      bs.push(sb[d]!);
    }
  }
  return { shape: dims, sa: as, sb: bs };
}

/**
 * fn(i, pa, pb, n, da, db) once per innermost row of two strided views of the same shape, after coalescing:
 * elements i..i+n-1 (row-major) sit at pa + j·da and pb + j·db. Kernels run their own tight loop per row,
 * instead of a closure call per element.
 */
export function rows2(shape: Shape, sa: readonly number[], oa: number, sb: readonly number[], ob: number,
  fn: (i: number, pa: number, pb: number, n: number, da: number, db: number) => void): void {
  const total = numel(shape);
  if (total === 0) return;
  const c = coalesce(shape, sa, sb);
  const nd = c.shape.length;
  if (nd === 0) { fn(0, oa, ob, 1, 0, 0); return; }
  const last = nd - 1, n = c.shape[last]!, da = c.sa[last]!, db = c.sb[last]!;
  if (nd === 1) { fn(0, oa, ob, n, da, db); return; }
  const idx = new Int32Array(nd);
  let pa = oa, pb = ob;
  for (let i = 0; i < total; i += n) {
    fn(i, pa, pb, n, da, db);
    for (let d = last - 1; d >= 0; d--) {
      idx[d]!++;
      pa += c.sa[d]!;
      pb += c.sb[d]!;
      if (idx[d]! < c.shape[d]!) break;
      pa -= c.sa[d]! * c.shape[d]!;
      pb -= c.sb[d]! * c.shape[d]!;
      idx[d] = 0;
    }
  }
}
