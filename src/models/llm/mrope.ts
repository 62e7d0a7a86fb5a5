// Multimodal RoPE (Qwen2-VL, Wang et al. 2024; transformers `Qwen2VLRotaryEmbedding` and
// `Qwen2VLModel.get_rope_index`). Every token has three position ids (temporal, height, width). The rotary
// frequencies are split by `mrope_section` (e.g. [16, 24, 24] of head_dim/2): frequency i uses the temporal id
// in the first section, the height id in the second, the width id in the third. Text tokens carry the same id
// in all three rows, so a text-only sequence is plain RoPE. An image of t×h×w patches merged by m gets ids
// (start + t', start + h', start + w') over its (t, h/m, w/m) grid, and the text after it continues from
// start + max(h, w)/m (not from the largest id + 1, which would count the temporal axis too).
//
// Shapes: B batch, T tokens, R rotated channels (head_dim), I images.

import { tensor, type Tensor } from '../../tensor/index.ts';

/** Three rows (t, h, w) of position ids, each [B][T]. */
export type MropePositions = readonly [number[][], number[][], number[][]];

/**
 * cos, sin [B, 1, T, R] in the rotate-half layout (each angle in both halves), frequency i taking its position
 * from the row its `section` slot names. inv_freq and the angle are rounded to float32 as transformers does.
 */
export function mropeTables(theta: number, dim: number, section: readonly number[], positions: MropePositions): { cos: Tensor; sin: Tensor } {
  const half = dim / 2;
  if (section.reduce((s, v) => s + v, 0) !== half) throw new Error(`mrope_section [${section.join(', ')}] must sum to head_dim/2 = ${half}`);
  const rowOf: number[] = section.flatMap((n, k) => new Array<number>(n).fill(k % 3));
  const invFreq = Array.from({ length: half }, (_, i) => Math.fround(1 / Math.pow(theta, Math.fround((2 * i) / dim))));
  const B = positions[0].length, T = positions[0][0]?.length ?? 0;
  const cos = new Float32Array(B * T * dim), sin = new Float32Array(B * T * dim);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
    const o = (b * T + t) * dim;
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(invFreq[i]! * positions[rowOf[i]!]![b]![t]!);
      cos[o + i] = cos[o + half + i] = Math.cos(angle);
      sin[o + i] = sin[o + half + i] = Math.sin(angle);
    }
  }
  return { cos: tensor(cos, { shape: [B, 1, T, dim] }), sin: tensor(sin, { shape: [B, 1, T, dim] }) };
}

export interface RopeIndex {
  positions: MropePositions;
  /** Per row: max id + 1 − real tokens; a decoding step at cache length L uses position L + delta. */
  deltas: number[];
}

/**
 * transformers' get_rope_index: walk each row's real tokens (attention_mask == 1) in runs of equal
 * mm_token_type (0 text, 1 image, 2 video); text runs count on by one, each media run takes the next grid of
 * its kind. Padding keeps id 0. Grids are [t, h, w] in patches, before merging.
 */
export function mropeIndex(tokenTypes: Tensor, grids: { image: readonly number[][]; video: readonly number[][] }, mergeSize: number,
  attentionMask: Tensor | null = null): RopeIndex {
  if (tokenTypes.ndim !== 2) throw new Error(`mm_token_type_ids must be [B, T], got [${tokenTypes.shape.join(', ')}]`);
  const [B, T] = tokenTypes.shape as [number, number];
  if (attentionMask && (attentionMask.shape[0] !== B || attentionMask.shape[1] !== T)) {
    throw new Error(`attention_mask [${attentionMask.shape.join(', ')}] should be [${B}, ${T}] like mm_token_type_ids`);
  }
  const types = tokenTypes.toList(), mask = attentionMask?.toList() ?? null;
  const rows = (): number[][] => Array.from({ length: B }, () => new Array<number>(T).fill(0));
  const positions: MropePositions = [rows(), rows(), rows()];
  const next = { 1: 0, 2: 0 }, deltas: number[] = [];
  for (let b = 0; b < B; b++) {
    const cols = Array.from({ length: T }, (_, t) => t).filter((t) => !mask || mask[b * T + t] !== 0);
    let pos = 0, maxId = -1, k = 0;
    const put = (col: number, t: number, h: number, w: number): void => {
      positions[0][b]![col] = t; positions[1][b]![col] = h; positions[2][b]![col] = w;
      maxId = Math.max(maxId, t, h, w);
    };
    while (k < cols.length) {
      const kind = types[b * T + cols[k]!]!;
      let end = k;
      while (end < cols.length && types[b * T + cols[end]!] === kind) end++;
      if (kind === 0) {
        for (let j = k; j < end; j++) put(cols[j]!, pos + j - k, pos + j - k, pos + j - k);
        pos += end - k;
        k = end;
        continue;
      }
      if (kind !== 1 && kind !== 2) throw new Error(`mm_token_type_ids: value ${kind} at row ${b} is not 0 (text), 1 (image) or 2 (video)`);
      const list = kind === 1 ? grids.image : grids.video, what = kind === 1 ? 'image' : 'video';
      const grid = list[next[kind]++];
      if (!grid) throw new Error(`mm_token_type_ids mark more ${what} runs than the ${list.length} rows of ${what}_grid_thw`);
      const [t, h, w] = [grid[0]!, grid[1]! / mergeSize, grid[2]! / mergeSize];
      if (!Number.isInteger(h) || !Number.isInteger(w)) throw new Error(`${what}_grid_thw [${grid.join(', ')}] is not divisible by spatial_merge_size ${mergeSize}`);
      // A run of media tokens is exactly one grid; adjacent media of one kind would need a text token between.
      if (end - k !== t * h * w) throw new Error(`row ${b}: a run of ${end - k} ${what} tokens does not match ${what}_grid_thw [${grid.join(', ')}] (${t * h * w} tokens after merging)`);
      let j = k;
      for (let a = 0; a < t; a++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) put(cols[j++]!, pos + a, pos + y, pos + x);
      pos += Math.max(h, w);
      k = end;
    }
    deltas.push(maxId + 1 - cols.length);
  }
  return { positions, deltas };
}
