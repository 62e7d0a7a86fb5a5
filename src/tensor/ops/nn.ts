// Neural-network ops with fused kernels: softmax / log-softmax along an axis, LayerNorm and RMSNorm over the
// last dim, scaled dot-product attention (causal, masks, grouped KV heads), cross-entropy with ignore_index,
// embedding lookup with a padding row, dropout. Semantics follow torch.nn.functional.

import { kernel } from '../../backend/registry.ts';
import { contiguousStrides, normAxis, shapeStr } from '../shape.ts';
import type { FloatStorage } from '../dtype.ts';
import { Tensor } from '../tensor.ts';
import { defaultRng, full, type Rng, zeros } from './creation.ts';
import { cast, mul, sigmoid, where } from './elementwise.ts';
import { contiguous, reshape, transpose } from './movement.ts';
import { addSpan, allocOut, assertFloat, floatStorage, output } from './util.ts';

/** Runs a last-axis row kernel on `axis` by moving that axis last. */
function alongAxis(x: Tensor, axis: number, f: (rowsX: Tensor) => Tensor): Tensor {
  const a = normAxis(axis, x.ndim);
  if (a === x.ndim - 1) return f(contiguous(x));
  return transpose(f(contiguous(transpose(x, a, -1))), a, -1);
}

function rowOp(name: 'softmax' | 'logSoftmax', x: Tensor): Tensor {
  const cols = x.shape[x.ndim - 1] ?? 1, rows = x.size / Math.max(cols, 1);
  const out = allocOut(x.dtype, x.shape);
  kernel(name, x.dtype)(floatStorage(x), rows, cols, out as Float32Array);
  return output(out, x.dtype, x.shape, [x], name, (g) => {
    const dx = allocOut(x.dtype, x.shape);
    kernel(name === 'softmax' ? 'softmaxBackward' : 'logSoftmaxBackward', x.dtype)(
      out as Float32Array, floatStorage(contiguous(g)), rows, cols, dx as Float32Array);
    return [new Tensor(dx, x.dtype, x.shape)];
  });
}

export function softmax(x: Tensor, axis = -1): Tensor {
  assertFloat(x, 'softmax');
  return alongAxis(x, axis, (t) => rowOp('softmax', t));
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  assertFloat(x, 'logSoftmax');
  return alongAxis(x, axis, (t) => rowOp('logSoftmax', t));
}

function checkNormParam(p: Tensor | null | undefined, cols: number, what: string): void {
  if (p && (p.ndim !== 1 || p.shape[0] !== cols)) throw new Error(`${what} has shape ${shapeStr(p.shape)}, expected [${cols}]`);
}

/** LayerNorm over the last dim (torch.nn.functional.layer_norm with normalized_shape = [C]). */
export function layerNorm(xIn: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  assertFloat(xIn, 'layerNorm');
  const x = contiguous(xIn);
  const cols = x.shape[x.ndim - 1]!, rows = x.size / cols, args = { rows, cols, eps };
  checkNormParam(weight, cols, 'layerNorm weight');
  checkNormParam(bias, cols, 'layerNorm bias');
  const w = weight ? floatStorage(contiguous(weight)) : null, b = bias ? floatStorage(contiguous(bias)) : null;
  const out = allocOut(x.dtype, x.shape), mean = allocOut(x.dtype, [rows]), rstd = allocOut(x.dtype, [rows]);
  kernel('layerNorm', x.dtype)(floatStorage(x), w, b, args, out as Float32Array, mean as Float32Array, rstd as Float32Array);
  return output(out, x.dtype, x.shape, [x, weight, bias], 'layerNorm', (g) => {
    const dx = allocOut(x.dtype, x.shape);
    const dw = weight?.requiresGrad ? allocOut(x.dtype, [cols]) : null;
    const db = bias?.requiresGrad ? allocOut(x.dtype, [cols]) : null;
    kernel('layerNormBackward', x.dtype)(floatStorage(x), w, mean as Float32Array, rstd as Float32Array, floatStorage(contiguous(g)), args,
      dx as Float32Array, dw as Float32Array | null, db as Float32Array | null);
    return [new Tensor(dx, x.dtype, x.shape), dw && new Tensor(dw, x.dtype, [cols]), db && new Tensor(db, x.dtype, [cols])];
  });
}

/** RMSNorm over the last dim: x / sqrt(mean(x²) + eps) · w, computed in the input dtype (as HF Llama does in float32). */
export function rmsNorm(xIn: Tensor, weight: Tensor | null, eps = 1e-6): Tensor {
  assertFloat(xIn, 'rmsNorm');
  const x = contiguous(xIn);
  const cols = x.shape[x.ndim - 1]!, rows = x.size / cols, args = { rows, cols, eps };
  checkNormParam(weight, cols, 'rmsNorm weight');
  const w = weight ? floatStorage(contiguous(weight)) : null;
  const out = allocOut(x.dtype, x.shape), rstd = allocOut(x.dtype, [rows]);
  kernel('rmsNorm', x.dtype)(floatStorage(x), w, args, out as Float32Array, rstd as Float32Array);
  return output(out, x.dtype, x.shape, [x, weight], 'rmsNorm', (g) => {
    const dx = allocOut(x.dtype, x.shape);
    const dw = weight?.requiresGrad ? allocOut(x.dtype, [cols]) : null;
    kernel('rmsNormBackward', x.dtype)(floatStorage(x), w, rstd as Float32Array, floatStorage(contiguous(g)), args,
      dx as Float32Array, dw as Float32Array | null);
    return [new Tensor(dx, x.dtype, x.shape), dw && new Tensor(dw, x.dtype, [cols])];
  });
}

export interface AttentionOptions {
  causal?: boolean;
  /** Broadcastable to [B, H, Tq, Tk]: bool (true = may attend, as torch) or float (added to the scores). */
  mask?: Tensor | null;
  /** Defaults to 1/sqrt(D). */
  scale?: number;
}

/** softmax(q·kᵀ·scale + mask)·v. q [B, H, Tq, D]; k, v [B, Hkv, Tk, D] with H % Hkv == 0 (grouped KV heads). */
export function scaledDotProductAttention(qIn: Tensor, kIn: Tensor, vIn: Tensor, opts: AttentionOptions = {}): Tensor {
  for (const t of [qIn, kIn, vIn]) assertFloat(t, 'attention');
  if (qIn.ndim !== 4 || kIn.ndim !== 4 || vIn.ndim !== 4) throw new Error('attention: q, k, v must be [B, H, T, D]');
  const [B, H, Tq, D] = qIn.shape as [number, number, number, number];
  const [Bk, Hkv, Tk, Dk] = kIn.shape as [number, number, number, number];
  if (Bk !== B || Dk !== D || H % Hkv !== 0 || vIn.shape.some((d, i) => d !== kIn.shape[i])) {
    throw new Error(`attention: q ${shapeStr(qIn.shape)}, k ${shapeStr(kIn.shape)}, v ${shapeStr(vIn.shape)} do not fit`);
  }
  // A [B, heads, T, D] view of a contiguous [B, T, heads, D] tensor (the usual head transpose) is used as is.
  const layout = [qIn, kIn, vIn].every(isHeadTransposed) ? 'bthd' : 'bhtd';
  const prep = (t: Tensor) => (layout === 'bthd' ? t : contiguous(t));
  const q = prep(qIn), k = prep(kIn), v = prep(vIn);
  const data = (t: Tensor) => (layout === 'bthd' ? (t.storage as FloatStorage).subarray(t.offset, t.offset + t.size) : floatStorage(t));
  const stridesOf = (shape: readonly number[]) => (layout === 'bthd' ? bthdStrides(shape) : contiguousStrides(shape));
  /** A gradient laid out like the forward tensors. */
  const gradData = (g: Tensor) => (layout === 'bthd' ? floatStorage(contiguous(transpose(g, 1, 2))) : floatStorage(contiguous(g)));
  let maskView = null;
  if (opts.mask) {
    let m = opts.mask;
    if (m.dtype !== q.dtype) m = m.dtype === 'bool' ? where(m, full([], 0, q.dtype), full([], -Infinity, q.dtype)) : cast(m, q.dtype);
    while (m.ndim < 4) m = reshape(m, [1, ...m.shape]);
    const shape = [B, H, Tq, Tk];
    const strides = m.shape.map((d, i) => {
      if (d === shape[i]) return m.strides[i]!;
      if (d === 1) return 0;
      throw new Error(`attention: mask ${shapeStr(opts.mask!.shape)} does not broadcast to ${shapeStr(shape)}`);
    });
    maskView = { data: m.storage as Float64Array, shape, strides, offset: m.offset };
  }
  const args = { B, H, Hkv, Tq, Tk, D, scale: opts.scale ?? 1 / Math.sqrt(D), causal: opts.causal ?? false, mask: maskView, layout } as const;
  const out = allocOut(q.dtype, q.shape), lse = allocOut(q.dtype, [B, H, Tq]);
  kernel('attention', q.dtype)(data(q), data(k), data(v), args, out as Float32Array, lse as Float32Array);
  return output(out, q.dtype, q.shape, [q, k, v], 'attention', (g) => {
    const dq = allocOut(q.dtype, q.shape), dk = allocOut(q.dtype, k.shape), dv = allocOut(q.dtype, v.shape);
    kernel('attentionBackward', q.dtype)(data(q), data(k), data(v), out as Float32Array, lse as Float32Array,
      gradData(g), args, dq as Float32Array, dk as Float32Array, dv as Float32Array);
    return [new Tensor(dq, q.dtype, q.shape, stridesOf(q.shape)), new Tensor(dk, q.dtype, k.shape, stridesOf(k.shape)),
      new Tensor(dv, q.dtype, v.shape, stridesOf(v.shape))];
  }, stridesOf(q.shape));
}

/** Strides of a [B, heads, T, D] view onto a contiguous [B, T, heads, D] storage. */
function bthdStrides(shape: readonly number[]): number[] {
  const [, Hh, T, D] = shape as [number, number, number, number];
  return [T * Hh * D, D, Hh * D, 1];
}

function isHeadTransposed(t: Tensor): boolean {
  const want = bthdStrides(t.shape);
  return t.shape.every((d, i) => d === 1 || t.strides[i] === want[i]);
}

export interface CrossEntropyOptions {
  ignoreIndex?: number;
  reduction?: 'mean' | 'sum' | 'none';
}

/**
 * The sigmoid binary cross-entropy of logits z against targets y in [0, 1], summed over every element (torch's
 * `binary_cross_entropy_with_logits(z, y, reduction='sum')`): Σ softplus(z) − y·z, as max(z, 0) − y·z +
 * log1p(exp(−|z|)) so that no exp overflows. The value is one pass on the host (in float64); the gradient
 * g·(σ(z) − y) goes through the backend's elementwise kernels. No gradient flows to y.
 */
export function bceWithLogitsSum(zIn: Tensor, yIn: Tensor): Tensor {
  assertFloat(zIn, 'bceWithLogitsSum');
  assertFloat(yIn, 'bceWithLogitsSum');
  if (shapeStr(zIn.shape) !== shapeStr(yIn.shape)) throw new Error(`bceWithLogitsSum: logits ${shapeStr(zIn.shape)} and targets ${shapeStr(yIn.shape)} differ in shape`);
  const z = contiguous(zIn), y = contiguous(yIn).detach();
  const zs = floatStorage(z), ys = floatStorage(y);
  let total = 0;
  for (let i = 0; i < zs.length; i++) {
    const v = zs[i]!;
    total += Math.max(v, 0) - ys[i]! * v + Math.log1p(Math.exp(-Math.abs(v)));
  }
  const out = allocOut(z.dtype, []);
  out[0] = total;
  return output(out, z.dtype, [], [z], 'bceWithLogitsSum', (g) => [sigmoid(z).sub(y).mul(g)]);
}

/** logits [..., V], targets [...] ids. 'mean' divides by the number of non-ignored targets (NaN when none), as torch. */
export function crossEntropy(logitsIn: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  assertFloat(logitsIn, 'crossEntropy');
  const ignore = opts.ignoreIndex ?? -100, reduction = opts.reduction ?? 'mean';
  const logits = contiguous(logitsIn);
  const V = logits.shape[logits.ndim - 1]!, rows = logits.size / V;
  if (targets.size !== rows) throw new Error(`crossEntropy: ${targets.size} targets for ${rows} rows of logits ${shapeStr(logits.shape)}`);
  const t = Int32Array.from(targets.toFloat64());
  const rowLoss = allocOut(logits.dtype, [rows]) as Float64Array;
  kernel('crossEntropy', logits.dtype)(floatStorage(logits), t, rows, V, ignore, rowLoss);
  let count = 0;
  for (const v of t) if (v !== ignore) count++;
  const backwardScaled = (scaleOf: (g: Tensor) => Float64Array | number) => (g: Tensor) => {
    const dl = allocOut(logits.dtype, logits.shape) as Float32Array;
    const s = scaleOf(g);
    if (typeof s === 'number') kernel('crossEntropyBackward', logits.dtype)(floatStorage(logits), t, rows, V, ignore, s, dl);
    else for (let r = 0; r < rows; r++) {
      kernel('crossEntropyBackward', logits.dtype)(floatStorage(logits).subarray(r * V, r * V + V), t.subarray(r, r + 1), 1, V, ignore,
        s[r]!, dl.subarray(r * V, r * V + V));
    }
    return [new Tensor(dl, logits.dtype, logits.shape)];
  };
  if (reduction === 'none') {
    return output(rowLoss, logits.dtype, targets.shape, [logits], 'crossEntropy', backwardScaled((g) => contiguous(g).toFloat64()));
  }
  let total = 0;
  for (let r = 0; r < rows; r++) total += rowLoss[r]!;
  const value = reduction === 'sum' ? total : total / count;
  const out = allocOut(logits.dtype, []);
  out[0] = value;
  return output(out, logits.dtype, [], [logits], 'crossEntropy',
    backwardScaled((g) => g.item() / (reduction === 'sum' ? 1 : count)));
}

/** Rows of weight [V, C] picked by integer ids of any shape → [...ids.shape, C]. The padding row gets no gradient. */
export function embedding(weight: Tensor, ids: Tensor, paddingIdx: number | null = null): Tensor {
  assertFloat(weight, 'embedding');
  const [V, C] = weight.shape as [number, number];
  const idx = ids.toFloat64();
  for (const id of idx) if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`embedding: id ${id} out of range [0, ${V})`);
  const w = floatStorage(contiguous(weight));
  const shape = [...ids.shape, C];
  const out = allocOut(weight.dtype, shape) as Float64Array;
  for (let i = 0; i < idx.length; i++) out.set(w.subarray(idx[i]! * C, idx[i]! * C + C), i * C);
  return output(out, weight.dtype, shape, [weight], 'embedding', (g) => {
    const gw = zeros(weight.shape, weight.dtype);
    const gd = floatStorage(gw), gg = floatStorage(contiguous(g));
    for (let i = 0; i < idx.length; i++) if (idx[i] !== paddingIdx) addSpan(gd, idx[i]! * C, gg, i * C, C);
    return [gw];
  });
}

/** Inverted dropout: zero with probability p and scale the rest by 1/(1-p); identity when not training. */
export function dropout(x: Tensor, p: number, training: boolean, rng: Rng = defaultRng()): Tensor {
  if (!training || p === 0) return x;
  if (p < 0 || p >= 1) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
  const keep = allocOut(x.dtype, x.shape) as Float64Array;
  for (let i = 0; i < keep.length; i++) keep[i] = rng.next() >= p ? 1 / (1 - p) : 0;
  return mul(x, new Tensor(keep, x.dtype, x.shape));
}
