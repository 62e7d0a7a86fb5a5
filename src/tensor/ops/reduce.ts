// Reductions along axes: sum, mean, max, min (values; the gradient goes to the maxima, split evenly on ties),
// argmax, and variance. keepDim keeps reduced axes as size 1, as torch's keepdim.

import type { ReduceOp } from '../../backend/backend.ts';
import { kernel } from '../../backend/registry.ts';
import { normAxes } from '../shape.ts';
import { Tensor } from '../tensor.ts';
import { compareOp, cast, div, mul, sub } from './elementwise.ts';
import { expand, reshape } from './movement.ts';
import { allocOut, assertFloat, output, view } from './util.ts';

function reduceOp(op: ReduceOp, x: Tensor, axesIn?: number | readonly number[], keepDim = false): Tensor {
  assertFloat(x, op);
  const axes = normAxes(axesIn, x.ndim);
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const outShape = keepDim ? kept : x.shape.filter((_, i) => !axes.includes(i));
  const out = allocOut(x.dtype, kept);
  kernel('reduce', x.dtype)(op, view(x), axes, out as Float32Array);
  return output(out, x.dtype, outShape, [x], op, (g) => {
    const gk = reshape(g, kept);
    if (op === 'sum') return [expand(gk, x.shape)];
    const y = new Tensor(out, x.dtype, kept);
    const hit = cast(compareOp('eq', x, y), x.dtype);
    const count = reduceOp('sum', hit, axes, true);
    return [mul(hit, div(gk, count))];
  });
}

export const sum = (x: Tensor, axes?: number | readonly number[], keepDim = false): Tensor => reduceOp('sum', x, axes, keepDim);
export const max = (x: Tensor, axes?: number | readonly number[], keepDim = false): Tensor => reduceOp('max', x, axes, keepDim);
export const min = (x: Tensor, axes?: number | readonly number[], keepDim = false): Tensor => reduceOp('min', x, axes, keepDim);

export function mean(x: Tensor, axes?: number | readonly number[], keepDim = false): Tensor {
  const list = normAxes(axes, x.ndim);
  const n = list.reduce((p, a) => p * x.shape[a]!, 1);
  return div(sum(x, list, keepDim), n);
}

/** Biased variance (divide by N) unless `unbiased`. */
export function variance(x: Tensor, axes?: number | readonly number[], keepDim = false, unbiased = false): Tensor {
  const list = normAxes(axes, x.ndim);
  const n = list.reduce((p, a) => p * x.shape[a]!, 1);
  const d = sub(x, mean(x, list, true));
  return div(sum(mul(d, d), list, keepDim), unbiased ? n - 1 : n);
}

/** Index of the first maximum along axis, as int32. */
export function argmax(x: Tensor, axis = -1, keepDim = false): Tensor {
  const a = normAxes(axis, x.ndim)[0]!;
  const n = x.shape[a]!;
  const outer = x.shape.slice(0, a).reduce((p, d) => p * d, 1);
  const inner = x.shape.slice(a + 1).reduce((p, d) => p * d, 1);
  const src = x.toFloat64();
  const out = new Int32Array(outer * inner);
  for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) {
    let best = -Infinity, bi = 0;
    for (let j = 0; j < n; j++) {
      const v = src[(o * n + j) * inner + i]!;
      if (v > best || Number.isNaN(v)) { best = v; bi = j; if (Number.isNaN(v)) break; }
    }
    out[o * inner + i] = bi;
  }
  const shape = keepDim ? x.shape.map((d, i) => (i === a ? 1 : d)) : x.shape.filter((_, i) => i !== a);
  return new Tensor(out, 'int32', shape);
}
