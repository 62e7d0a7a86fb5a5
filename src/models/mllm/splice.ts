// Splicing media features into token embeddings (transformers LLaVA `masked_scatter`): every position whose id
// is the media token takes the next feature row, in row-major order across the whole batch. The features
// replace the embeddings, so embedding rows at those positions get no gradient.
//
// Shapes: B batch, T tokens, C hidden, M feature rows (all images of the batch).

import { embedding, tensor, where, type Tensor } from '../../tensor/index.ts';

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
  const rowOf = new Int32Array(B * T), isMedia = new Uint8Array(B * T);
  positions.forEach((p, m) => { rowOf[p] = m; isMedia[p] = 1; });
  // a row lookup (text positions read row 0; `where` gives them no gradient): a per-element gather over B·T·C
  // indices cost ~95 ms a step of the demo model (bench:train-vlm profile)
  const picked = embedding(features, tensor(rowOf, { shape: [B, T], dtype: 'int32' })); // [B, T, C]
  return where(tensor(isMedia, { shape: [B, T, 1], dtype: 'bool' }), picked, embeds);
}
