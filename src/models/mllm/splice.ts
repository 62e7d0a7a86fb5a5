// Splicing media features into token embeddings (transformers LLaVA `masked_scatter`): every position whose id
// is the media token takes the next feature row, in row-major order across the whole batch. The features
// replace the embeddings, so embedding rows at those positions get no gradient.
//
// Shapes: B batch, T tokens, C hidden, M feature rows (all images of the batch).

import { contiguous, Tensor } from '../../tensor/index.ts';
import { allocOut, floatStorage, output } from '../../tensor/ops/util.ts';

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
  if (features.dtype !== embeds.dtype) throw new Error(`splice: ${what} features are ${features.dtype}, embeddings ${embeds.dtype}`);
  return replaceRows(embeds, features, positions);
}

/**
 * x [B, T, C] with row p = positions[m] (flat b·T + t) replaced by rows[m] ([M, C]). Forward and backward are
 * row copies: x's gradient is g with those rows zeroed, rows' gradient the rows of g at the positions. (A
 * per-element gather cost ~95 ms a step of the demo model, a lookup in [features; embeddings] ~10 ms of JS
 * scatter-adds and zero fills: bench:train-vlm.)
 */
function replaceRows(x: Tensor, rows: Tensor, positions: readonly number[]): Tensor {
  const C = x.shape[2]!, dtype = x.dtype; // float32 or float64: typed as Float64Array, as the op files do
  const xs = floatStorage(contiguous(x)) as Float64Array, rs = floatStorage(contiguous(rows)) as Float64Array;
  const out = allocOut(dtype, x.shape) as Float64Array;
  out.set(xs);
  positions.forEach((p, m) => out.set(rs.subarray(m * C, m * C + C), p * C));
  return output(out, dtype, x.shape, [x, rows], 'spliceRows', (g) => {
    const gs = floatStorage(contiguous(g)) as Float64Array;
    let gx: Tensor | null = null, gr: Tensor | null = null;
    if (x.requiresGrad) {
      const d = allocOut(dtype, x.shape) as Float64Array;
      d.set(gs);
      for (const p of positions) d.fill(0, p * C, p * C + C);
      gx = new Tensor(d, dtype, x.shape);
    }
    if (rows.requiresGrad) {
      const d = allocOut(dtype, rows.shape) as Float64Array;
      positions.forEach((p, m) => d.set(gs.subarray(p * C, p * C + C), m * C));
      gr = new Tensor(d, dtype, rows.shape);
    }
    return [gx, gr];
  });
}
