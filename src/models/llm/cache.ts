// The key/value cache of a decoder as a plain value: per layer the keys and values seen so far, and how many
// positions they hold. Layers return a new cache instead of mutating one, so a caller can keep, fork or drop
// a cache freely (beam search, batch-of-2 vs two batches of 1 tests).
//
// Shapes: k, v [B, Hkv, S, D] with S = length.

import { concat, contiguous, Tensor, zeros } from '../../tensor/index.ts';

export interface LayerKV {
  readonly k: Tensor;
  readonly v: Tensor;
}

export interface KVCache {
  /** One entry per layer; null before the first forward. */
  readonly layers: readonly (LayerKV | null)[];
  /** Number of cached positions (the same for every layer). */
  readonly length: number;
}

export function emptyCache(numLayers: number): KVCache {
  return Object.freeze({ layers: Object.freeze(new Array<LayerKV | null>(numLayers).fill(null)), length: 0 });
}

/** Storage of successive caches of one layer: [B, capacity, Hkv, D] rows, of which `used` are written. */
interface KVBuffer { B: number; Hkv: number; D: number; capacity: number; used: number }
// keyed by the storage array, which the cache's views (and their detached copies) share
const buffers = new WeakMap<object, KVBuffer>();

/**
 * Keys/values of one layer with the new ones appended along the sequence axis. The caches of successive
 * steps share one buffer with room to grow (capacity doubles), so a decoding step writes its own rows
 * instead of copying the whole cache (which made n steps cost O(n²)). Rows below a cache's length are never
 * written again, so older caches stay valid; appending to a cache that is not the newest of its buffer (a
 * fork) copies it into a new buffer. With gradients (training through a cache) the append is a plain concat.
 */
export function appendKV(past: LayerKV | null, k: Tensor, v: Tensor): LayerKV {
  if (k.requiresGrad || v.requiresGrad || past?.k.requiresGrad || past?.v.requiresGrad) {
    if (!past) return { k, v };
    const cat = (a: Tensor, b: Tensor) => concat([a.transpose(1, 2), b.transpose(1, 2)], 1).transpose(1, 2);
    return { k: cat(past.k, k), v: cat(past.v, v) };
  }
  const [B, Hkv, T, D] = k.shape as [number, number, number, number];
  const S = past ? past.k.shape[2]! : 0;
  const buf = past ? buffers.get(past.k.storage) : undefined;
  // in place only when past is the newest cache of its buffer, viewed whole (not a slice of it), and k fits it
  if (past && buf && buf === buffers.get(past.v.storage) && buf.used === S && S + T <= buf.capacity && past.k.dtype === k.dtype
    && buf.B === B && buf.Hkv === Hkv && buf.D === D && isWholeView(past.k, buf) && isWholeView(past.v, buf)) {
    writeRows(past.k, k, S, buf.capacity);
    writeRows(past.v, v, S, buf.capacity);
    buf.used = S + T;
    return { k: rowsView(past.k, buf), v: rowsView(past.v, buf) };
  }
  const fresh: KVBuffer = { B, Hkv, D, capacity: Math.max(64, 2 * (S + T)), used: S + T };
  const grow = (old: Tensor | null, x: Tensor): Tensor => {
    const store = zeros([B, fresh.capacity, Hkv, D], x.dtype);
    if (old) writeRows(store, old, 0, fresh.capacity);
    writeRows(store, x, S, fresh.capacity);
    buffers.set(store.storage, fresh);
    return rowsView(store, fresh);
  };
  return { k: grow(past?.k ?? null, k), v: grow(past?.v ?? null, v) };
}

/** The [B, Hkv, used, D] view of a buffer's written rows ([B, capacity, Hkv, D] storage under `store`). */
function rowsView(store: Tensor, buf: KVBuffer): Tensor {
  return new Tensor(store.storage, store.dtype, [buf.B, buf.Hkv, buf.used, buf.D], rowStrides(buf), 0);
}

const rowStrides = (buf: KVBuffer) => [buf.capacity * buf.Hkv * buf.D, buf.D, buf.Hkv * buf.D, 1];

/** True when t is a view of the buffer laid out as rowsView lays it: every batch row and head, from position 0. */
function isWholeView(t: Tensor, buf: KVBuffer): boolean {
  const want = rowStrides(buf);
  return t.offset === 0 && t.shape[0] === buf.B && t.shape[1] === buf.Hkv && t.shape[3] === buf.D && t.strides.every((st, i) => st === want[i]);
}

/** Writes x [B, Hkv, T, D] into rows at..at+T of the buffer under `store`. */
function writeRows(store: Tensor, x: Tensor, at: number, capacity: number): void {
  const [B, Hkv, T, D] = x.shape as [number, number, number, number];
  const src = contiguous(x.transpose(1, 2)), row = Hkv * D; // [B, T, Hkv, D]
  const from = src.storage as Float32Array, to = store.storage as Float32Array;
  for (let b = 0; b < B; b++) {
    to.set(from.subarray(src.offset + b * T * row, src.offset + (b + 1) * T * row), (b * capacity + at) * row);
  }
}

/** Cached tensors cut from the autograd tape (a cache carried across steps must not keep graphs alive). */
export function detachCache(cache: KVCache): KVCache {
  return Object.freeze({
    layers: Object.freeze(cache.layers.map((l) => (l ? { k: l.k.detach(), v: l.v.detach() } : null))),
    length: cache.length,
  });
}
