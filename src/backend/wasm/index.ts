// The `wasm` backend: float32 tensors live in one shared WebAssembly memory and the hot kernels run as
// SIMD128 code on a worker pool (./runtime.ts). This file adapts those kernels to the engine's Kernels
// interface: each override takes the fast path when the operands fit it (float32, contiguous or a GEMM
// layout) and otherwise falls back to the reference loop, which reads the same memory.
//
// Memory: a tensor's block is freed when its storage array is garbage-collected (FinalizationRegistry).
// Finalizers only run between event-loop turns, so long loops `await` each step (the trainer and the
// generator do); when the heap has grown by a lot since the last collection, a GC is forced so the
// finalizers are queued by the next turn.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { AttentionArgs, Backend, BinaryOp, Kernels, UnaryOp, View } from '../backend.ts';
import { referenceKernels } from '../reference/index.ts';
import { walk2 } from '../reference/iter.ts';
import { gemmLayout, gemmSpan, uniformBatchStride } from '../gemm-layout.ts';
import { allocStorage, type DType, type FloatStorage, type Storage, type StorageOf } from '../../tensor/dtype.ts';
import { contiguousStrides, numel, type Shape } from '../../tensor/shape.ts';
import { createWasmRuntime, wasmVariant, type WasmRuntime } from './runtime.ts';
import * as E from './elementwise.ts';
import * as R from './rows.ts';
import * as L from './layout.ts';
import { sgemm, sgemmStridedBatched } from './gemm.ts';
import { attentionBwd, attentionFwd, type AttentionShape } from './attention.ts';

type F32 = Float32Array;
const ref = referenceKernels;

/** A way to force a full GC without a command-line flag (the flag is honoured once set). */
function gcFunction(): (() => void) | null {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return null;
  }
}

/** The attention kernels over heap arrays: the wasm fused ones by default; the blas backend passes GEMM-based ones. */
export interface AttentionImpl {
  fwd: typeof attentionFwd;
  bwd: typeof attentionBwd;
}

export function wasmKernels(rt: WasmRuntime, attn: AttentionImpl = { fwd: attentionFwd, bwd: attentionBwd }): Partial<Kernels> {
  const heap = rt.heap;
  const isF32 = (x: unknown): x is F32 => x instanceof Float32Array;
  const owned = (x: unknown): x is F32 => isF32(x) && heap.owns(x);

  /** Runs f with every array in the heap: foreign ones are copied in (and outputs copied back). */
  function staged<T>(inputs: (F32 | null)[], outputs: F32[], f: (ins: (F32 | null)[], outs: F32[]) => T): T {
    // the usual case, checked without allocating: every array already lives in the heap
    let inHeap = true;
    for (let i = 0; i < inputs.length && inHeap; i++) inHeap = inputs[i] === null || heap.owns(inputs[i]!);
    for (let i = 0; i < outputs.length && inHeap; i++) inHeap = heap.owns(outputs[i]!);
    if (inHeap) return f(inputs, outputs);
    const temps: number[] = [];
    const stage = (a: F32, copy: boolean): F32 => {
      if (heap.owns(a)) return a;
      const b = heap.alloc(a.length);
      temps.push(b.ptr);
      if (copy) b.array.set(a);
      return b.array;
    };
    try {
      const ins = inputs.map((a) => (a ? stage(a, true) : null));
      const outs = outputs.map((a) => stage(a, false));
      const r = f(ins, outs);
      outs.forEach((o, i) => { if (o !== outputs[i]) outputs[i]!.set(o); });
      return r;
    } finally {
      for (const p of temps) heap.free(p);
    }
  }

  const contiguous = (v: View): boolean => {
    let s = 1;
    for (let i = v.shape.length - 1; i >= 0; i--) {
      if (v.shape[i] !== 1 && v.strides[i] !== s) return false;
      s *= v.shape[i]!;
    }
    return true;
  };
  const flat = (v: View): F32 => (v.data as F32).subarray(v.offset, v.offset + numel(v.shape));

  /**
   * Runs f on a contiguous heap copy of a permuted float32 view (a transposed conv output, say), made by the
   * copy kernel, so the elementwise and reduction kernels need not fall back to the reference loop for it;
   * returns false (f not run) when the view is broadcast, reversed or small.
   */
  const withDense = (v: View, f: (dense: View) => void): boolean => {
    const n = numel(v.shape);
    if (!isF32(v.data) || n < 1024 || v.strides.some((st, i) => st <= 0 && v.shape[i]! > 1)) return false;
    const block = heap.alloc(n);
    try {
      kernels.copy!(v, block.array);
      f({ data: block.array, shape: v.shape, strides: contiguousStrides(v.shape), offset: 0 });
      return true;
    } finally {
      heap.free(block.ptr);
    }
  };

  const wasmUnary: Partial<Record<UnaryOp, E.UnaryOp>> = {
    relu: 'relu', gelu: 'gelu', geluTanh: 'geluTanh', quickGelu: 'quickGelu', silu: 'silu', exp: 'exp', tanh: 'tanh',
    sigmoid: 'sigmoid', neg: 'neg', square: 'square', abs: 'abs', sqrt: 'sqrt', rsqrt: 'rsqrt',
  };
  const wasmUnaryGrad: Partial<Record<UnaryOp, E.UnaryGradOp>> = {
    relu: 'relu', gelu: 'gelu', geluTanh: 'geluTanh', quickGelu: 'quickGelu', silu: 'silu', exp: 'exp', tanh: 'tanh',
    sigmoid: 'sigmoid', neg: 'neg', square: 'square', abs: 'abs',
  };
  const wasmBinary: Partial<Record<BinaryOp, E.BinaryOp>> = { add: 'add', sub: 'sub', mul: 'mul', div: 'div' };
  const commutes = (op: E.BinaryOp): boolean => op === 'add' || op === 'mul';

  const kernels: Partial<Kernels> = {
    copy(x, out) {
      if (!isF32(x.data) || !isF32(out) || numel(x.shape) < 64) return ref.copy(x, out);
      let span = 1;
      for (let i = 0; i < x.shape.length; i++) span += (x.shape[i]! - 1) * Math.max(0, x.strides[i]!);
      if (x.strides.some((st, i) => st < 0 && x.shape[i]! > 1)) return ref.copy(x, out);
      const src = x.data.subarray(x.offset, x.offset + span);
      const done = staged([src], [out], ([s], [o]) => L.copyStrided(rt, x.shape, x.strides, s!, o!));
      if (!done) ref.copy(x, out);
    },

    unary(op: UnaryOp, x: View, out: FloatStorage) {
      const w = wasmUnary[op];
      if (!w || !isF32(x.data) || !isF32(out) || !contiguous(x)) return ref.unary(op, x, out);
      const n = out.length;
      staged([flat(x)], [out], ([xi], [o]) => E.unary(rt, w, n, xi!, o!));
    },

    unaryBackward(op: UnaryOp, x: View, gy: FloatStorage, out: FloatStorage) {
      const w = wasmUnaryGrad[op];
      if (!w || !isF32(x.data) || !isF32(gy) || !isF32(out) || !contiguous(x)) return ref.unaryBackward(op, x, gy, out);
      const n = out.length;
      staged([flat(x), gy], [out], ([xi, g], [o]) => E.unaryBackward(rt, w, n, xi!, g!, o!));
    },

    binary(op: BinaryOp, a: View, b: View, shape: Shape, out: FloatStorage) {
      const w = wasmBinary[op];
      if (!w || !isF32(a.data) || !isF32(b.data) || !isF32(out)) return ref.binary(op, a, b, shape, out);
      const n = out.length;
      const aFull = contiguous({ ...a, shape }), bFull = contiguous({ ...b, shape });
      // a permuted (transposed) operand of the full shape: made contiguous first
      if (!aFull && withDense({ ...a, shape }, (d) => kernels.binary!(op, d, b, shape, out))) return;
      if (!bFull && withDense({ ...b, shape }, (d) => kernels.binary!(op, a, d, shape, out))) return;
      if (aFull && bFull) {
        return staged([flat({ ...a, shape }), flat({ ...b, shape })], [out], ([x, y], [o]) => E.binary(rt, w, n, x!, y!, o!));
      }
      // one operand full, the other a vector along the last dim (bias add, norm scale): the row kernel;
      // a [rows, 1] column (per-row scale) or a scalar: the column kernel. A broadcast first operand only
      // when the op commutes.
      const cols = shape[shape.length - 1] ?? 1;
      const last = shape.length - 1;
      const isRow = (v: View) => v.strides.every((s, i) => (i === last ? s === 1 || shape[i] === 1 : s === 0 || shape[i] === 1));
      const isCol = (v: View) => (v.strides[last] === 0 || cols === 1) && contiguous({ ...v, shape: shape.slice(0, last), strides: v.strides.slice(0, last) });
      const isScalar = (v: View) => v.strides.every((s, i) => s === 0 || shape[i] === 1);
      // elements of the trailing block v holds contiguously when its leading dims are all broadcast (else 0)
      const tile = (v: View): number => {
        let k = shape.length, st = 1;
        while (k > 0 && (v.strides[k - 1] === st || shape[k - 1] === 1)) st *= shape[--k]!;
        for (let i = 0; i < k; i++) if (v.strides[i] !== 0 && shape[i] !== 1) return 0;
        return st;
      };
      const pick = (full: View, vec: View, swapped: boolean): boolean => {
        if (swapped && !commutes(w)) return false;
        const x = flat({ ...full, shape });
        if (isScalar(vec)) {
          const v = (vec.data as F32).subarray(vec.offset, vec.offset + 1);
          staged([x, v], [out], ([xi, vi], [o]) => E.binaryCol(rt, w, 1, n, xi!, vi!, o!));
        } else if (isRow(vec) && cols > 1) {
          const v = (vec.data as F32).subarray(vec.offset, vec.offset + cols);
          staged([x, v], [out], ([xi, vi], [o]) => E.binaryRow(rt, w, n / cols, cols, xi!, vi!, o!));
        } else if (tile(vec) > 1) {
          // a contiguous block repeated over the leading dims (position embeddings [1, T, C] on [B, T, C]): rows of it
          const len = tile(vec), v = (vec.data as F32).subarray(vec.offset, vec.offset + len);
          staged([x, v], [out], ([xi, vi], [o]) => E.binaryRow(rt, w, n / len, len, xi!, vi!, o!));
        } else if (isCol(vec) && cols > 1) {
          const v = (vec.data as F32).subarray(vec.offset, vec.offset + n / cols);
          staged([x, v], [out], ([xi, vi], [o]) => E.binaryCol(rt, w, n / cols, cols, xi!, vi!, o!));
        } else {
          return false;
        }
        return true;
      };
      if (n > 0 && aFull && pick(a, b, false)) return;
      if (n > 0 && bFull && pick(b, a, true)) return;
      return ref.binary(op, a, b, shape, out);
    },

    reduce(op, x, axes, out) {
      if (op === 'sum' && isF32(out) && axes.length > 0 && !contiguous(x) && withDense(x, (d) => kernels.reduce!(op, d, axes, out))) return;
      if (op !== 'sum' || !isF32(x.data) || !isF32(out) || !contiguous(x) || axes.length === 0) return ref.reduce(op, x, axes, out);
      const nd = x.shape.length;
      // leading axes (bias gradients) → column sums; trailing axes → row sums
      const leading = axes.every((a, i) => a === i), trailing = axes.every((a, i) => a === nd - axes.length + i);
      const inner = numel(x.shape.slice(axes.length)), outer = numel(x.shape.slice(0, nd - axes.length));
      if (leading) return staged([flat(x)], [out], ([xi], [o]) => R.sumCols(rt, numel(x.shape) / inner, inner, xi!, o!));
      if (trailing) return staged([flat(x)], [out], ([xi], [o]) => R.sumRows(rt, outer, numel(x.shape) / outer, xi!, o!));
      // a block of middle axes (a mean over windows, e.g. audio pooling): a column sum of each outer index's block
      const a0 = axes[0]!, a1 = axes[axes.length - 1]!;
      const before = numel(x.shape.slice(0, a0)), after = numel(x.shape.slice(a1 + 1)), mid = numel(x.shape.slice(a0, a1 + 1));
      if (axes.every((a, i) => a === a0 + i) && before <= 4096 && after >= 16) {
        return staged([flat(x)], [out], ([xi], [o]) => {
          for (let i = 0; i < before; i++) R.sumCols(rt, mid, after, xi!.subarray(i * mid * after, (i + 1) * mid * after), o!.subarray(i * after, (i + 1) * after));
        });
      }
      return ref.reduce(op, x, axes, out);
    },

    matmul(a: View, b: View, batch: Shape, M: number, N: number, K: number, out: FloatStorage) {
      if (!isF32(a.data) || !isF32(b.data) || !isF32(out)) return ref.matmul(a, b, batch, M, N, K, out);
      const nb = batch.length;
      const la = gemmLayout(a.strides, nb, M, K), lb = gemmLayout(b.strides, nb, K, N);
      if (!la || !lb || M === 0 || N === 0) return ref.matmul(a, b, batch, M, N, K, out);
      if (K === 0) { out.fill(0); return; }
      const count = numel(batch);
      const sa = uniformBatchStride(batch, a.strides, nb), sb = uniformBatchStride(batch, b.strides, nb);
      const spanA = gemmSpan(la, M, K), spanB = gemmSpan(lb, K, N);
      if (sa !== null && sb !== null) {
        const A = a.data.subarray(a.offset, a.offset + (count - 1) * sa + spanA);
        const B = b.data.subarray(b.offset, b.offset + (count - 1) * sb + spanB);
        return staged([A, B], [out], ([x, y], [o]) =>
          count === 1
            ? sgemm(rt, la.trans, lb.trans, M, N, K, 1, x!, la.ld, y!, lb.ld, 0, o!, N)
            : sgemmStridedBatched(rt, la.trans, lb.trans, M, N, K, 1, x!, la.ld, sa, y!, lb.ld, sb, 0, o!, N, M * N, count));
      }
      let o = 0;
      walk2(batch, a.strides.slice(0, nb), a.offset, b.strides.slice(0, nb), b.offset, (_i, pa, pb) => {
        const C = out.subarray(o, o + M * N);
        staged([(a.data as F32).subarray(pa, pa + spanA), (b.data as F32).subarray(pb, pb + spanB)], [C], ([x, y], [c]) =>
          sgemm(rt, la.trans, lb.trans, M, N, K, 1, x!, la.ld, y!, lb.ld, 0, c!, N));
        o += M * N;
      });
    },

    softmax(x, rows, cols, out) {
      if (!isF32(x) || !isF32(out)) return ref.softmax(x, rows, cols, out);
      staged([x], [out], ([xi], [o]) => R.softmax(rt, rows, cols, xi!, o!));
    },
    logSoftmax(x, rows, cols, out) {
      if (!isF32(x) || !isF32(out)) return ref.logSoftmax(x, rows, cols, out);
      staged([x], [out], ([xi], [o]) => R.logSoftmax(rt, rows, cols, xi!, o!));
    },
    softmaxBackward(y, gy, rows, cols, out) {
      if (!isF32(y) || !isF32(gy) || !isF32(out)) return ref.softmaxBackward(y, gy, rows, cols, out);
      staged([y, gy], [out], ([yi, g], [o]) => R.softmaxBwd(rt, rows, cols, yi!, g!, o!));
    },

    rmsNorm(x, w, a, out, rstd) {
      if (!isF32(x) || !isF32(out) || !isF32(rstd) || (w && !isF32(w))) return ref.rmsNorm(x, w, a, out, rstd);
      const weight = w ?? new Float32Array(a.cols).fill(1);
      staged([x, weight as F32], [out, rstd], ([xi, wi], [o, r]) => R.rmsNorm(rt, a.rows, a.cols, xi!, wi!, a.eps, o!, r!));
    },
    rmsNormBackward(x, w, rstd, gy, a, dx, dw) {
      if (!isF32(x) || !isF32(gy) || !isF32(dx) || !isF32(rstd) || (w && !isF32(w))) return ref.rmsNormBackward(x, w, rstd, gy, a, dx, dw);
      const weight = w ?? new Float32Array(a.cols).fill(1);
      const dwOut = (dw as F32 | null) ?? new Float32Array(a.cols);
      staged([x, weight as F32, rstd as F32, gy], [dx, dwOut], ([xi, wi, r, g], [d, dwi]) =>
        R.rmsNormBwd(rt, a.rows, a.cols, xi!, wi!, r!, g!, d!, dwi!));
    },
    layerNorm(x, w, b, a, out, mean, rstd) {
      if (!isF32(x) || !isF32(out) || !isF32(mean) || !isF32(rstd)) return ref.layerNorm(x, w, b, a, out, mean, rstd);
      const weight = (w as F32 | null) ?? new Float32Array(a.cols).fill(1), bias = (b as F32 | null) ?? new Float32Array(a.cols);
      staged([x, weight, bias], [out, mean, rstd], ([xi, wi, bi], [o, m, r]) => R.layerNorm(rt, a.rows, a.cols, xi!, wi!, bi!, a.eps, o!, m!, r!));
    },
    layerNormBackward(x, w, mean, rstd, gy, a, dx, dw, db) {
      if (!isF32(x) || !isF32(gy) || !isF32(dx) || !isF32(mean) || !isF32(rstd)) return ref.layerNormBackward(x, w, mean, rstd, gy, a, dx, dw, db);
      const weight = (w as F32 | null) ?? new Float32Array(a.cols).fill(1);
      const dwOut = (dw as F32 | null) ?? new Float32Array(a.cols), dbOut = (db as F32 | null) ?? new Float32Array(a.cols);
      staged([x, weight, mean as F32, rstd as F32, gy], [dx, dwOut, dbOut], ([xi, wi, m, r, g], [d, dwi, dbi]) =>
        R.layerNormBwd(rt, a.rows, a.cols, xi!, wi!, m!, r!, g!, d!, dwi!, dbi!));
    },

    attention(q, k, v, a, out, lse) {
      const keyMask = attentionKeyMask(a);
      if (!isF32(q) || !isF32(out) || keyMask === undefined) return ref.attention(q, k, v, a, out, lse);
      const s = attentionShape(a);
      staged([q, k as F32, v as F32], [out, lse as F32], ([qi, ki, vi], [o, l]) => attn.fwd(rt, s, qi!, ki!, vi!, o!, l!, stageMask(keyMask)));
    },
    attentionBackward(q, k, v, out, lse, gOut, a, dq, dk, dv) {
      const keyMask = attentionKeyMask(a);
      if (!isF32(q) || !isF32(dq) || keyMask === undefined) return ref.attentionBackward(q, k, v, out, lse, gOut, a, dq, dk, dv);
      const s = attentionShape(a);
      staged([q, k as F32, v as F32, out as F32, lse as F32, gOut as F32], [dq, dk as F32, dv as F32], ([qi, ki, vi, o, l, g], [a1, a2, a3]) =>
        attn.bwd(rt, s, qi!, ki!, vi!, o!, l!, g!, a1!, a2!, a3!, stageMask(keyMask)));
    },

    crossEntropy(logits, targets, rows, cols, ignoreIndex, loss) {
      if (!isF32(logits) || !isF32(loss) || !targetsInRange(targets, rows, cols, ignoreIndex)) return ref.crossEntropy(logits, targets, rows, cols, ignoreIndex, loss);
      withTargets(targets, rows, (t) => staged([logits], [loss], ([x], [l]) => R.crossEntropyLoss(rt, rows, cols, x!, t, ignoreIndex, l!)));
    },
    crossEntropyBackward(logits, targets, rows, cols, ignoreIndex, scale, dlogits) {
      if (!isF32(logits) || !isF32(dlogits) || !targetsInRange(targets, rows, cols, ignoreIndex)) {
        return ref.crossEntropyBackward(logits, targets, rows, cols, ignoreIndex, scale, dlogits);
      }
      withTargets(targets, rows, (t) => staged([logits], [dlogits], ([x], [d]) => R.crossEntropyGrad(rt, rows, cols, x!, t, ignoreIndex, scale, d!)));
    },

    swiglu(a, b, out) {
      if (!isF32(a) || !isF32(b) || !isF32(out)) return ref.swiglu(a, b, out);
      staged([a, b], [out], ([x, y], [o]) => E.swiglu(rt, out.length, x!, y!, o!));
    },
    swigluBackward(a, b, gy, da, db) {
      if (!isF32(a) || !isF32(b) || !isF32(gy) || !isF32(da) || !isF32(db)) return ref.swigluBackward(a, b, gy, da, db);
      staged([a, b, gy], [da, db], ([x, y, g], [dx, dy]) => E.swigluBwd(rt, gy.length, x!, y!, g!, dx!, dy!));
    },

    rope(x, cos, sin, a, out) {
      if (!isF32(x) || !isF32(cos) || !isF32(sin) || !isF32(out) || a.rotary % 2 !== 0) return ref.rope(x, cos, sin, a, out);
      staged([x, cos, sin], [out], ([xi, c, s], [o]) => L.rope(rt, a, xi!, c!, s!, o!));
    },

    adamw(p, g, m, v, a) {
      if (!owned(p) || !isF32(g) || !isF32(m) || !isF32(v)) return ref.adamw(p, g, m, v, a);
      staged([g], [], ([gi]) => staged([m, v], [], ([mi, vi]) => {
        E.adamw(rt, p.length, p, gi!, mi!, vi!, a);
        if (mi !== m) m.set(mi!);
        if (vi !== v) v.set(vi!);
      }));
    },

    sumSquares(x) {
      return owned(x) ? R.sumSquares(rt, x.length, x) : ref.sumSquares(x);
    },
  };
  return kernels;

  function attentionShape(a: AttentionArgs): AttentionShape {
    return { B: a.B, T: a.Tq, S: a.Tk, H: a.H, Hkv: a.Hkv, D: a.D, causal: a.causal, scale: a.scale, layout: a.layout };
  }

  // out-of-range targets go to the reference, whose error names the row
  function targetsInRange(t: Int32Array, rows: number, cols: number, ignoreIndex: number): boolean {
    for (let r = 0; r < rows; r++) if (t[r] !== ignoreIndex && !(t[r]! >= 0 && t[r]! < cols)) return false;
    return true;
  }

  function withTargets(t: Int32Array, rows: number, f: (heapTargets: Int32Array) => void): void {
    if (heap.owns(t)) return f(t);
    const ptr = heap.allocBytes(4 * Math.max(rows, 1));
    try {
      const view = heap.i32(ptr, rows);
      view.set(t.subarray(0, rows));
      f(view);
    } finally {
      heap.free(ptr);
    }
  }

  /** Key-padding masks as the wasm kernel takes them (i32 [B, Tk], 1 = attend); null = no mask; undefined = not expressible. */
  function attentionKeyMask(a: AttentionArgs): Int32Array | null | undefined {
    if (a.causal && a.Tq > a.Tk) return undefined; // rows that see no key at all: the reference's rule
    const m = a.mask;
    if (!m) return null;
    if (m.strides[1] !== 0 || m.strides[2] !== 0) return undefined;
    const keys = new Int32Array(a.B * a.Tk);
    for (let b = 0; b < a.B; b++) {
      let firstSeen = a.Tk;
      for (let j = 0; j < a.Tk; j++) {
        const val = m.data[m.offset + b * m.strides[0]! + j * m.strides[3]!]!;
        if (val === 0) { keys[b * a.Tk + j] = 1; firstSeen = Math.min(firstSeen, j); } else if (val > -1e30) return undefined;
      }
      // a query row whose visible keys are all masked follows the reference's rule (uniform or zero), not the kernel's
      if (a.causal ? firstSeen > a.Tk - a.Tq : firstSeen === a.Tk) return undefined;
    }
    return keys;
  }

  function stageMask(keys: Int32Array | null): Int32Array | undefined {
    if (!keys) return undefined;
    const b = heap.alloc(keys.length);
    const view = heap.i32(b.ptr, keys.length);
    view.set(keys);
    heap.freeWhenCollected(view, b.ptr);
    return view;
  }
}

export async function createWasmBackend(threads: number): Promise<Backend & { runtime: WasmRuntime }> {
  const rt = await createWasmRuntime({ threads });
  const gc = gcFunction();
  let sinceCollect = 0;
  const collectEvery = 256 * 1024 * 1024;
  // every wasm kernel writes all of its output, so recycled heap blocks need no zero fill
  const allocUninit = <D extends DType>(dtype: D, n: number): StorageOf[D] => {
    if (dtype !== 'float32') return allocStorage(dtype, n);
    const block = rt.heap.alloc(n);
    rt.heap.freeWhenCollected(block.array, block.ptr);
    sinceCollect += 4 * n;
    if (gc && sinceCollect > collectEvery) {
      sinceCollect = 0;
      gc(); // queues finalizers for unreachable blocks; they run at the next turn of the event loop
    }
    return block.array as StorageOf[D];
  };
  return {
    name: 'wasm',
    detail: `${wasmVariant === 'relaxed' ? 'SIMD128 + relaxed-SIMD FMA' : 'SIMD128'}, ${rt.threads} worker${rt.threads === 1 ? '' : 's'}`,
    runtime: rt,
    threads: rt.threads,
    dtypes: ['float32'],
    kernels: wasmKernels(rt),
    allocUninit,
    release(storage: Storage): void {
      // only the view allocUninit returned is registered with the heap's finalizer: every other view (a subarray, a
      // view made after a grow) is left to the collector, or the finalizer would later free a reused block
      if (!(storage instanceof Float32Array) || !rt.heap.owns(storage) || !rt.heap.forget(storage)) return;
      rt.heap.free(storage.byteOffset);
      sinceCollect = Math.max(0, sinceCollect - storage.byteLength);
    },
    alloc<D extends DType>(dtype: D, n: number): StorageOf[D] {
      const a = allocUninit(dtype, n);
      if (a instanceof Float32Array) a.fill(0);
      return a;
    },
  };
}
