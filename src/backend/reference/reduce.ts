// Reference reductions (sum / max / min over any set of axes) and batched matmul with arbitrary strides.

import type { Kernels, ReduceOp, View } from '../backend.ts';
import type { FloatStorage } from '../../tensor/dtype.ts';
import type { Shape } from '../../tensor/shape.ts';
import { contiguousStrides } from '../../tensor/shape.ts';
import { rows2, walk2 } from './iter.ts';

export const reduce: Kernels['reduce'] = (op: ReduceOp, x: View, axes: readonly number[], out: FloatStorage) => {
  const outShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const os = contiguousStrides(outShape).map((s, i) => (axes.includes(i) ? 0 : s));
  out.fill(op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity);
  const src = x.data;
  rows2(x.shape, x.strides, x.offset, os, 0, (_i, p, q, n, dp, dq) => {
    // the same element order as a plain walk, so sums round identically
    if (op === 'sum') for (let j = 0; j < n; j++) out[q + j * dq] = out[q + j * dq]! + src[p + j * dp]!;
    else if (op === 'max') for (let j = 0; j < n; j++) { const v = src[p + j * dp]!; if (!(v <= out[q + j * dq]!)) out[q + j * dq] = v; }
    else for (let j = 0; j < n; j++) { const v = src[p + j * dp]!; if (!(v >= out[q + j * dq]!)) out[q + j * dq] = v; }
  });
};

export const matmul: Kernels['matmul'] = (a: View, b: View, batch: Shape, M: number, N: number, K: number, out: FloatStorage) => {
  const nb = batch.length;
  const sam = a.strides[nb]!, sak = a.strides[nb + 1]!, sbk = b.strides[nb]!, sbn = b.strides[nb + 1]!;
  const da = a.data, db = b.data;
  const row = new Float64Array(N);
  let o = 0;
  // walk the batch dims; positions of each matrix start in a and b
  walk2(batch, a.strides.slice(0, nb), a.offset, b.strides.slice(0, nb), b.offset, (_i, pa, pb) => {
    for (let i = 0; i < M; i++) {
      row.fill(0);
      for (let k = 0; k < K; k++) {
        const av = da[pa + i * sam + k * sak]!;
        const bk = pb + k * sbk;
        for (let j = 0; j < N; j++) row[j] = row[j]! + av * db[bk + j * sbn]!;
      }
      for (let j = 0; j < N; j++) out[o++] = row[j]!;
    }
  });
};
