// AssemblyScript source, compiled by asc (scripts/build-wasm.mjs); tsconfig excludes this folder.
// Entry of the tessera kernel module: re-exports every kernel so asc emits one .wasm.
export { sgemm, sgemmBatched, sgemv, gatherStrided, scatterStrided, sgemmSharedB, packedBFloats } from './gemm';
export function copyBytes(dst: usize, src: usize, n: usize): void { memory.copy(dst, src, n); }
export function heapBase(): usize { return __heap_base; }
import { GEMM_SCRATCH_BYTES, MR, NR, MC } from './gemm';
export function gemmScratchBytes(): i32 { return GEMM_SCRATCH_BYTES; }
// the micro-kernel's tile and row block, which the TS side splits work on (gemm.test.ts checks they agree)
export function gemmBlocking(): i32 { return (MR << 16) | (NR << 8) | MC; }
export { binary, binaryRow, binaryCol, scale, unary, unaryBwd, swiglu, swigluBwd, adamw } from './elementwise';
export { softmax, logSoftmax, softmaxBwd, rmsNorm, rmsNormBwd, layerNorm, layerNormBwd, crossEntropy, crossEntropyLoss, crossEntropyGrad, sumRows, sumCols, sumSquares } from './rows';
export { attnFwd, attnBwd, attnScratchBytes, attnSoftmaxRows, attnGradRows } from './attention';
export { rope, im2col, copyStrided } from './layout';
