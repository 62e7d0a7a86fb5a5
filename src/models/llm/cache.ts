// The key/value cache of a decoder as a plain value: per layer the keys and values seen so far, and how many
// positions they hold. Layers return a new cache instead of mutating one, so a caller can keep, fork or drop
// a cache freely (beam search, batch-of-2 vs two batches of 1 tests).
//
// Shapes: k, v [B, Hkv, S, D] with S = length.

import { concat, type Tensor } from '../../tensor/index.ts';

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

/** Keys/values of one layer with the new ones appended along the sequence axis. */
export function appendKV(past: LayerKV | null, k: Tensor, v: Tensor): LayerKV {
  if (!past) return { k, v };
  // appended in the [B, S, Hkv, D] storage order the attention kernels read without copies
  const cat = (a: Tensor, b: Tensor) => concat([a.transpose(1, 2), b.transpose(1, 2)], 1).transpose(1, 2);
  return { k: cat(past.k, k), v: cat(past.v, v) };
}

/** Cached tensors cut from the autograd tape (a cache carried across steps must not keep graphs alive). */
export function detachCache(cache: KVCache): KVCache {
  return Object.freeze({
    layers: Object.freeze(cache.layers.map((l) => (l ? { k: l.k.detach(), v: l.v.detach() } : null))),
    length: cache.length,
  });
}
