// Greedy decoding with a KV cache, reproducing transformers `generate(do_sample=False)` with left padding:
// the prompt's positions are cumsum(attention_mask) − 1 (pads 0), each new token gets the next position of
// its row, and the mask grows by one 1 per step. The model is a `step` function, so multimodal models can
// splice their features into the first step only.
//
// Shapes: B batch, T prompt tokens, V vocab.

import { argmax, concat, noGrad, ones, slice, tensor, type Tensor } from '../../tensor/index.ts';
import type { KVCache } from './cache.ts';

export interface StepInput {
  /** [B, T] the prompt on the first step, [B, 1] the last token afterwards. */
  inputIds: Tensor;
  /** [B, cached + new] */
  attentionMask: Tensor;
  /** [B, T] or [B, 1] */
  positionIds: Tensor;
  /** null on the first step. */
  cache: KVCache | null;
}

/** Returns the next-token logits [B, 1, V] (or [B, T, V]; the last position is used) and the grown cache. */
export type StepFn = (input: StepInput) => { logits: Tensor; cache: KVCache };

export interface GreedyResult {
  /** New token ids per row. */
  tokens: number[][];
  /** Raw next-token logits of each step, [B, V] each. */
  stepLogits: Tensor[];
}

/** cumsum(mask) − 1 per row, with padded positions set to 0. */
export function positionsFromMask(mask: Tensor): Tensor {
  const [B, T] = mask.shape as [number, number];
  const m = mask.toList(), out = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    let seen = 0;
    for (let t = 0; t < T; t++) {
      if (m[b * T + t]) seen++;
      out[b * T + t] = m[b * T + t] ? seen - 1 : 0;
    }
  }
  return tensor(out, { shape: [B, T], dtype: 'int32' });
}

export function greedyGenerate(inputIds: Tensor, attentionMask: Tensor | null, maxNewTokens: number, step: StepFn, eosTokenId: number | null = null): GreedyResult {
  if (inputIds.ndim !== 2) throw new Error(`generate: input_ids must be [B, T], got [${inputIds.shape.join(', ')}]`);
  const [B, T] = inputIds.shape as [number, number];
  return noGrad(() => {
    let mask = attentionMask ?? ones([B, T], 'int32');
    let positions = positionsFromMask(mask);
    let ids = inputIds, cache: KVCache | null = null;
    const tokens: number[][] = Array.from({ length: B }, () => []);
    const stepLogits: Tensor[] = [];
    const done = new Array<boolean>(B).fill(false);
    for (let s = 0; s < maxNewTokens; s++) {
      const r = step({ inputIds: ids, attentionMask: mask, positionIds: positions, cache });
      cache = r.cache;
      const L = r.logits.shape[1]!;
      const last = slice(r.logits, 1, L - 1, L).squeeze(1); // [B, V]
      stepLogits.push(last);
      const next = argmax(last, -1).toList();
      next.forEach((id, b) => { if (!done[b]) tokens[b]!.push(id); if (id === eosTokenId) done[b] = true; });
      if (done.every(Boolean)) break;
      ids = tensor(next, { shape: [B, 1], dtype: 'int32' });
      mask = concat([mask.to('int32'), ones([B, 1], 'int32')], 1);
      // The new token's position is cumsum(mask) − 1 at its own column: the number of real tokens before it.
      positions = slice(positionsFromMask(mask), 1, mask.shape[1]! - 1);
    }
    return { tokens, stepLogits };
  });
}
