// The reference backend: plain TypeScript loops over typed arrays, the living definition of every op.

import type { Backend, Kernels } from '../backend.ts';
import { allocStorage } from '../../tensor/dtype.ts';
import { binary, compare, copy, unary, unaryBackward } from './elementwise.ts';
import { matmul, reduce } from './reduce.ts';
import { layerNorm, layerNormBackward, logSoftmax, logSoftmaxBackward, rmsNorm, rmsNormBackward, softmax, softmaxBackward } from './norm.ts';
import { attention, attentionBackward } from './attention.ts';
import { adamw, crossEntropy, crossEntropyBackward, sumSquares } from './loss.ts';
import { rope, swiglu, swigluBackward } from './fused.ts';

export const referenceKernels: Kernels = {
  copy, unary, unaryBackward, binary, compare, reduce, matmul,
  softmax, softmaxBackward, logSoftmax, logSoftmaxBackward,
  layerNorm, layerNormBackward, rmsNorm, rmsNormBackward,
  attention, attentionBackward, crossEntropy, crossEntropyBackward, adamw, swiglu, swigluBackward, rope,
  sumSquares,
};

export const referenceBackend: Backend = {
  name: 'reference',
  alloc: allocStorage,
  kernels: referenceKernels,
  threads: 1,
  dtypes: ['float32', 'float64', 'float16', 'bfloat16', 'int32', 'int64', 'bool'],
};
