// Matrix products: matmul with numpy broadcasting of batch dims (a vector operand is promoted and squeezed
// back), and linear (x·Wᵀ + b, the nn.Linear convention). Transposed operands are passed as strided views,
// so backward's aᵀ·g and g·bᵀ never copy.

import { kernel } from '../../backend/registry.ts';
import { noGrad } from '../autograd.ts';
import { broadcastShapes, broadcastStrides, shapeStr } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { add, sumToShape } from './elementwise.ts';
import { reshape, squeeze, transpose, unsqueeze } from './movement.ts';
import { allocOut, assertFloat, output, view } from './util.ts';

export function matmul(aIn: Tensor, bIn: Tensor): Tensor {
  assertFloat(aIn, 'matmul');
  assertFloat(bIn, 'matmul');
  if (aIn.dtype !== bIn.dtype) throw new Error(`matmul: dtype mismatch ${aIn.dtype} vs ${bIn.dtype}`);
  if (aIn.ndim === 0 || bIn.ndim === 0) throw new Error('matmul: scalars are not matrices');
  const a = aIn.ndim === 1 ? unsqueeze(aIn, 0) : aIn;
  const b = bIn.ndim === 1 ? unsqueeze(bIn, 1) : bIn;
  const M = a.shape[a.ndim - 2]!, K = a.shape[a.ndim - 1]!, N = b.shape[b.ndim - 1]!;
  if (b.shape[b.ndim - 2] !== K) throw new Error(`matmul: shapes ${shapeStr(aIn.shape)} and ${shapeStr(bIn.shape)} do not align`);
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const va = { ...view(a), strides: broadcastStrides(a.shape, a.strides, [...batch, M, K]) };
  const vb = { ...view(b), strides: broadcastStrides(b.shape, b.strides, [...batch, K, N]) };
  const shape = [...batch, M, N];
  const out = allocOut(a.dtype, shape);
  kernel('matmul', a.dtype)(va, vb, batch, M, N, K, out as Float32Array);
  let y = output(out, a.dtype, shape, [a, b], 'matmul', (g) => [
    a.requiresGrad ? sumToShape(matmul(g, transpose(b)), a.shape) : null,
    b.requiresGrad ? sumToShape(matmul(transpose(a), g), b.shape) : null,
  ]);
  if (aIn.ndim === 1) y = squeeze(y, -2);
  if (bIn.ndim === 1) y = squeeze(y, -1);
  return y;
}

/** x [..., in] · weight [out, in]ᵀ (+ bias [out]). */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const inF = weight.shape[1]!;
  if (x.shape[x.ndim - 1] !== inF) throw new Error(`linear: input ${shapeStr(x.shape)} does not end in ${inF} (weight ${shapeStr(weight.shape)})`);
  const lead = x.shape.slice(0, -1);
  const x2 = reshape(x, [-1, inF]);
  // One tape entry whose weight gradient is gᵀ·x, laid out as the weight ([out, in], contiguous), rather than
  // the transpose of xᵀ·g, which the optimiser would have to copy.
  const y0 = noGrad(() => matmul(x2, transpose(weight)));
  let y = output(y0.storage, y0.dtype, y0.shape, [x2, weight], 'linear', (g) => [
    x2.requiresGrad ? matmul(g, weight) : null,
    weight.requiresGrad ? matmul(transpose(g), x2) : null,
  ]);
  if (bias) y = add(y, bias);
  return reshape(y, [...lead, weight.shape[0]!]);
}
