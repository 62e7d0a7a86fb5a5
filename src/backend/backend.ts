// The small interface between tensor ops and compute. Each kernel reads inputs and writes a preallocated,
// contiguous output. The `reference` backend (plain TypeScript loops) implements every kernel and is the
// definition of each op; a faster backend (wasm, blas) overrides the kernels it accelerates, and the rest
// fall back to the reference. Model code never talks to a backend: it talks to Tensor.

import type { DType, FloatStorage, Storage, StorageOf } from '../tensor/dtype.ts';
import type { Shape } from '../tensor/shape.ts';

/** A strided read-only window onto storage. */
export interface View<S extends Storage = FloatStorage> {
  readonly data: S;
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
}

export type UnaryOp =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'abs' | 'tanh' | 'sigmoid' | 'relu' | 'silu'
  | 'gelu' | 'geluTanh' | 'quickGelu' | 'square' | 'sin' | 'cos';

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum';
export type CompareOp = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';
export type ReduceOp = 'sum' | 'max' | 'min';

export interface NormArgs {
  readonly rows: number;
  readonly cols: number;
  readonly eps: number;
}

export interface AttentionArgs {
  /**
   * q [B, H, Tq, D], k/v [B, Hkv, Tk, D]; H a multiple of Hkv (grouped KV heads). `layout` says how the
   * contiguous storages are ordered: 'bhtd' as the shapes read, or 'bthd' ([B, T, heads, D], what a model's
   * q/k/v projections produce before the head transpose), which spares two copies per attention call.
   */
  readonly layout: 'bhtd' | 'bthd';
  readonly B: number;
  readonly H: number;
  readonly Hkv: number;
  readonly Tq: number;
  readonly Tk: number;
  readonly D: number;
  readonly scale: number;
  /** Causal: query i (at absolute position Tk - Tq + i) sees keys 0..Tk-Tq+i. */
  readonly causal: boolean;
  /** Optional additive bias/mask broadcast to [B, H, Tq, Tk] (e.g. 0 / -inf for padding), contiguous after broadcast strides. */
  readonly mask: View | null;
}

export interface RopeArgs {
  readonly rows: number;
  readonly heads: number;
  readonly headDim: number;
  readonly rotary: number;
  readonly tableRows: number;
  readonly inverse: boolean;
}

export interface AdamWArgs {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** 1-based step count, for bias correction. */
  readonly step: number;
  /** The gradient is read as g·gradScale (gradient clipping's coefficient, without a scaled copy); default 1. */
  readonly gradScale?: number;
}

/** Every kernel. Outputs are contiguous arrays sized by the op layer. */
export interface Kernels {
  /** out = x laid out contiguously (any dtype). */
  copy(x: View<Storage>, out: Storage): void;
  unary(op: UnaryOp, x: View, out: FloatStorage): void;
  /** out = gy * d op(x)/dx, elementwise (gy contiguous in x's shape). */
  unaryBackward(op: UnaryOp, x: View, gy: FloatStorage, out: FloatStorage): void;
  /** a, b already broadcast to `shape` through their strides. */
  binary(op: BinaryOp, a: View, b: View, shape: Shape, out: FloatStorage): void;
  compare(op: CompareOp, a: View, b: View, shape: Shape, out: Uint8Array): void;
  /** out[x's shape with `axes` set to 1] = op over axes. */
  reduce(op: ReduceOp, x: View, axes: readonly number[], out: FloatStorage): void;
  /** Batched matmul: a [...batch, M, K], b [...batch, K, N] broadcast to the same batch shape through strides. */
  matmul(a: View, b: View, batch: Shape, M: number, N: number, K: number, out: FloatStorage): void;
  softmax(x: FloatStorage, rows: number, cols: number, out: FloatStorage): void;
  softmaxBackward(y: FloatStorage, gy: FloatStorage, rows: number, cols: number, out: FloatStorage): void;
  logSoftmax(x: FloatStorage, rows: number, cols: number, out: FloatStorage): void;
  logSoftmaxBackward(y: FloatStorage, gy: FloatStorage, rows: number, cols: number, out: FloatStorage): void;
  layerNorm(x: FloatStorage, w: FloatStorage | null, b: FloatStorage | null, a: NormArgs, out: FloatStorage, mean: FloatStorage, rstd: FloatStorage): void;
  layerNormBackward(x: FloatStorage, w: FloatStorage | null, mean: FloatStorage, rstd: FloatStorage, gy: FloatStorage, a: NormArgs,
    dx: FloatStorage, dw: FloatStorage | null, db: FloatStorage | null): void;
  rmsNorm(x: FloatStorage, w: FloatStorage | null, a: NormArgs, out: FloatStorage, rstd: FloatStorage): void;
  rmsNormBackward(x: FloatStorage, w: FloatStorage | null, rstd: FloatStorage, gy: FloatStorage, a: NormArgs,
    dx: FloatStorage, dw: FloatStorage | null): void;
  /** Writes out [B, H, Tq, D] and the per-row log-sum-exp [B, H, Tq] for the backward pass. */
  attention(q: FloatStorage, k: FloatStorage, v: FloatStorage, a: AttentionArgs, out: FloatStorage, lse: FloatStorage): void;
  attentionBackward(q: FloatStorage, k: FloatStorage, v: FloatStorage, out: FloatStorage, lse: FloatStorage, gOut: FloatStorage,
    a: AttentionArgs, dq: FloatStorage, dk: FloatStorage, dv: FloatStorage): void;
  /** Cross-entropy rows: loss[r] = logsumexp(logits[r]) - logits[r, t[r]] (0 where t[r] == ignoreIndex). */
  crossEntropy(logits: FloatStorage, targets: Int32Array, rows: number, cols: number, ignoreIndex: number, loss: FloatStorage): void;
  /** dlogits[r] = scale * (softmax(logits[r]) - onehot(t[r])), zero rows where ignored. */
  crossEntropyBackward(logits: FloatStorage, targets: Int32Array, rows: number, cols: number, ignoreIndex: number, scale: number,
    dlogits: FloatStorage): void;
  /** out = silu(a) · b (the SwiGLU gate of Llama-style MLPs), elementwise over contiguous arrays. */
  swiglu(a: FloatStorage, b: FloatStorage, out: FloatStorage): void;
  swigluBackward(a: FloatStorage, b: FloatStorage, gy: FloatStorage, da: FloatStorage, db: FloatStorage): void;
  /**
   * Rotate-half RoPE (HF Llama): x [rows, heads, D] contiguous, rows = B·T; the first `a.rotary` channels of each
   * head become x·cos + rotate_half(x)·sin, the rest are copied. Row r uses table row r % a.tableRows of cos/sin
   * [tableRows, rotary] (tables shared across the batch have T rows; per-sequence tables B·T). `inverse` applies
   * the transposed rotation, which is the backward.
   */
  rope(x: FloatStorage, cos: FloatStorage, sin: FloatStorage, a: RopeArgs, out: FloatStorage): void;
  /** In place: the torch AdamW step on one parameter. */
  adamw(p: FloatStorage, g: FloatStorage, m: FloatStorage, v: FloatStorage, a: AdamWArgs): void;
  /**
   * Σ x² in float64 (gradient clipping's global norm), in one order every backend keeps: four sums over
   * x[4k], x[4k+1], x[4k+2], x[4k+3], the tail added to the first, then ((s0 + s1) + s2) + s3.
   */
  sumSquares(x: FloatStorage): number;
}

export interface Backend {
  readonly name: string;
  /** Zero-filled storage for a new tensor (a wasm backend hands out views into its shared memory). */
  alloc<D extends DType>(dtype: D, n: number): StorageOf[D];
  /**
   * Storage whose contents are unspecified, for outputs a kernel overwrites entirely (most op outputs), so
   * the backend can skip zero-filling memory it recycles. Absent: `alloc` is used.
   */
  allocUninit?<D extends DType>(dtype: D, n: number): StorageOf[D];
  /**
   * Gives the memory of a storage this backend allocated back at once, before the garbage collector would.
   * The caller guarantees that nothing will read or write it again. Absent: memory returns when collected.
   */
  release?(storage: Storage): void;
  readonly kernels: Partial<Kernels>;
  /** Number of threads the backend computes with. */
  readonly threads: number;
  /** Which dtypes its kernels accept (others fall back to the reference). */
  readonly dtypes: readonly DType[];
  /** What it runs on, for `tessera info` (e.g. the BLAS library and kernel family, the wasm build). */
  readonly detail?: string;
}
