// Splicing media features into token embeddings (transformers LLaVA `masked_scatter`): every position whose id
// is the media token takes the next feature row, in row-major order across the whole batch. The features
// replace the embeddings, so embedding rows at those positions get no gradient.
//
// Shapes: B batch, T tokens, C hidden, M feature rows (all images of the batch).

import { concat, embedding, reshape, tensor, type Tensor } from '../../tensor/index.ts';

/** Positions (flat b·T + t) holding `tokenId`, in row-major order. */
export function mediaPositions(ids: Tensor, tokenId: number): number[] {
  const out: number[] = [];
  ids.toList().forEach((v, i) => { if (v === tokenId) out.push(i); });
  return out;
}

/**
 * embeds [B, T, C], ids [B, T], features [M, C] → [B, T, C]. A count mismatch between media tokens and feature
 * rows is an error naming both (transformers raises the same).
 */
export function spliceFeatures(embeds: Tensor, ids: Tensor, tokenId: number, features: Tensor, what = 'image'): Tensor {
  const [B, T, C] = embeds.shape as [number, number, number];
  if (ids.ndim !== 2 || ids.shape[0] !== B || ids.shape[1] !== T) throw new Error(`splice: input_ids [${ids.shape.join(', ')}] do not match embeddings [${B}, ${T}, ${C}]`);
  if (features.ndim !== 2 || features.shape[1] !== C) throw new Error(`splice: ${what} features [${features.shape.join(', ')}] should be [M, ${C}]`);
  const positions = mediaPositions(ids, tokenId);
  const M = features.shape[0]!;
  if (positions.length !== M) {
    throw new Error(`${what} features and ${what} tokens do not match: ${positions.length} ${what} tokens (id ${tokenId}) in input_ids, ${M} feature rows`);
  }
  if (M === 0) return embeds;
  // one row lookup in [features; embeddings]: position p reads feature row m when it is the m-th media
  // position, else its own embedding (row M + p). The gradient flows back to exactly the rows read. (A
  // per-element gather cost ~95 ms a step of the demo model, a select with `where` ~10 ms: bench:train-vlm.)
  const rowOf = new Int32Array(B * T);
  for (let p = 0; p < B * T; p++) rowOf[p] = M + p;
  positions.forEach((p, m) => { rowOf[p] = m; });
  const table = concat([features, reshape(embeds, [B * T, C])], 0); // [M + B·T, C]
  return embedding(table, tensor(rowOf, { shape: [B, T], dtype: 'int32' }));
}
