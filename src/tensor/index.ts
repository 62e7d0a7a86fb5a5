// The tensor API in one import: the Tensor class with chainable methods, every op as a function, autograd.
//
//   import { tensor, randn, noGrad } from '../tensor/index.ts';
//   const w = randn([4, 3]).requireGrad();
//   const loss = tensor([[1, 2, 3]]).matmul(w.T).relu().sum();
//   loss.backward();            // w.grad is now d loss / d w

import { backward as runBackward, registerAutogradOps, type BackwardOptions } from './autograd.ts';
import type { DType } from './dtype.ts';
import type { Shape } from './shape.ts';
import { Tensor } from './tensor.ts';
import * as C from './ops/creation.ts';
import * as E from './ops/elementwise.ts';
import * as M from './ops/movement.ts';
import * as R from './ops/reduce.ts';
import * as MM from './ops/matmul.ts';
import * as N from './ops/nn.ts';
import { recordAllocations, releaseStorage } from './ops/util.ts';

export * from './ops/creation.ts';
export * from './ops/elementwise.ts';
export * from './ops/movement.ts';
export * from './ops/reduce.ts';
export * from './ops/matmul.ts';
export * from './ops/nn.ts';
export * from './ops/conv.ts';
export * from './ops/rope.ts';
export * from './ops/fused.ts';
export { noGrad, isGradEnabled } from './autograd.ts';
export type { DType } from './dtype.ts';
export { Tensor, type GradFn } from './tensor.ts';
export type { Shape } from './shape.ts';

registerAutogradOps((a, b) => E.add(a, b), (t) => C.onesLike(t), M.gatherWindows, { record: recordAllocations, release: releaseStorage });

type TL = E.TensorLike;
type Axes = number | readonly number[];

declare module './tensor.ts' {
  interface Tensor {
    backward(grad?: Tensor, opts?: BackwardOptions): void;
    add(b: TL): Tensor; sub(b: TL): Tensor; mul(b: TL): Tensor; div(b: TL): Tensor; pow(b: TL): Tensor;
    neg(): Tensor; exp(): Tensor; log(): Tensor; sqrt(): Tensor; rsqrt(): Tensor; abs(): Tensor; tanh(): Tensor;
    sigmoid(): Tensor; relu(): Tensor; silu(): Tensor; gelu(): Tensor; square(): Tensor;
    sum(axes?: Axes, keepDim?: boolean): Tensor; mean(axes?: Axes, keepDim?: boolean): Tensor;
    max(axes?: Axes, keepDim?: boolean): Tensor; min(axes?: Axes, keepDim?: boolean): Tensor; argmax(axis?: number, keepDim?: boolean): Tensor;
    matmul(b: Tensor): Tensor;
    reshape(shape: Shape): Tensor; view(...shape: number[]): Tensor; permute(...dims: number[]): Tensor;
    transpose(a?: number, b?: number): Tensor; readonly T: Tensor; contiguous(): Tensor;
    unsqueeze(axis: number): Tensor; squeeze(axis?: number): Tensor; flatten(start?: number, end?: number): Tensor;
    slice(axis: number, start: number, end?: number, step?: number): Tensor; expand(shape: Shape): Tensor;
    softmax(axis?: number): Tensor; logSoftmax(axis?: number): Tensor;
    to(dtype: DType): Tensor; detach(): Tensor; clone(): Tensor;
  }
}

const P = Tensor.prototype;
P.backward = function (grad?: Tensor, opts?: BackwardOptions) { runBackward(this, grad, opts); };
P.add = function (b) { return E.add(this, b); };
P.sub = function (b) { return E.sub(this, b); };
P.mul = function (b) { return E.mul(this, b); };
P.div = function (b) { return E.div(this, b); };
P.pow = function (b) { return E.pow(this, b); };
P.neg = function () { return E.neg(this); };
P.exp = function () { return E.exp(this); };
P.log = function () { return E.log(this); };
P.sqrt = function () { return E.sqrt(this); };
P.rsqrt = function () { return E.rsqrt(this); };
P.abs = function () { return E.abs(this); };
P.tanh = function () { return E.tanh(this); };
P.sigmoid = function () { return E.sigmoid(this); };
P.relu = function () { return E.relu(this); };
P.silu = function () { return E.silu(this); };
P.gelu = function () { return E.gelu(this); };
P.square = function () { return E.square(this); };
P.sum = function (axes, keepDim) { return R.sum(this, axes, keepDim); };
P.mean = function (axes, keepDim) { return R.mean(this, axes, keepDim); };
P.max = function (axes, keepDim) { return R.max(this, axes, keepDim); };
P.min = function (axes, keepDim) { return R.min(this, axes, keepDim); };
P.argmax = function (axis, keepDim) { return R.argmax(this, axis, keepDim); };
P.matmul = function (b) { return MM.matmul(this, b); };
P.reshape = function (shape) { return M.reshape(this, shape); };
P.view = function (...shape) { return M.reshape(this, shape); };
P.permute = function (...dims) { return M.permute(this, dims); };
P.transpose = function (a = -2, b = -1) { return M.transpose(this, a, b); };
Object.defineProperty(P, 'T', { get(this: Tensor) { return M.transpose(this, -2, -1); } });
P.contiguous = function () { return M.contiguous(this); };
P.unsqueeze = function (axis) { return M.unsqueeze(this, axis); };
P.squeeze = function (axis) { return M.squeeze(this, axis); };
P.flatten = function (start, end) { return M.flatten(this, start, end); };
P.slice = function (axis, start, end, step) { return M.slice(this, axis, start, end, step); };
P.expand = function (shape) { return M.expand(this, shape); };
P.softmax = function (axis) { return N.softmax(this, axis); };
P.logSoftmax = function (axis) { return N.logSoftmax(this, axis); };
P.to = function (dtype) { return E.cast(this, dtype); };
/** The same data, cut from the tape. */
P.detach = function () { return new Tensor(this.storage, this.dtype, this.shape, this.strides, this.offset); };
P.clone = function () {
  const c = M.contiguous(this);
  return c === this ? new Tensor(this.toArray(), this.dtype, this.shape) : c;
};

export type { TL as TensorLike };
