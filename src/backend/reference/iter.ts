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
