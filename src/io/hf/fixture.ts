// Reading Hugging Face parity fixtures (shared/fixtures/hf/<name>/): named tensors from a safetensors file,
// meta.json, and the comparison the README prescribes (max |ts − ref|, optionally only at rows where
// attention_mask == 1), so tests print one maxdiff per tensor name as llm.c's test_gpt2 does.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tensor, type Tensor } from '../../tensor/index.ts';
import { openSafetensors } from '../safetensors.ts';

/** Every tensor of a .safetensors file, keyed by name (ints stay int64, floats float32). */
export function readTensors(path: string): Map<string, Tensor> {
  const r = openSafetensors(path);
  try {
    const out = new Map<string, Tensor>();
    for (const k of r.keys()) {
      const t = r.read(k);
      out.set(k, t.dtype === 'float16' || t.dtype === 'bfloat16' ? tensor(r.readFloat32(k), { shape: t.shape })
        : tensor(t.data, { shape: t.shape, dtype: t.dtype }));
    }
    return out;
  } finally {
    r.close();
  }
}

export function readMeta(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Record<string, unknown>;
}

/**
 * max |a − b| over all elements, or over the [.., T, X] rows whose `rowMask` [B, T] entry is nonzero
 * (a and b are [B, T, ...] then, or [K, B, T, ...] stacks).
 */
export function maxDiff(a: Tensor, b: Tensor, rowMask: Tensor | null = null): number {
  if (a.shape.join() !== b.shape.join()) throw new Error(`maxDiff: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ`);
  const x = a.toFloat64(), y = b.toFloat64();
  const m = rowMask?.toList() ?? null;
  const inner = m ? innerSize(a, rowMask!) : 1;
  let max = 0;
  for (let i = 0; i < x.length; i++) {
    if (m && !m[Math.floor(i / inner) % m.length]) continue;
    const d = Math.abs(x[i]! - y[i]!);
    if (!(d <= max)) max = d; // NaN propagates as the result
  }
  return max;
}

/** Elements per mask entry: the product of dims after the mask's [B, T] block. */
function innerSize(a: Tensor, mask: Tensor): number {
  const [B, T] = mask.shape as [number, number];
  for (let s = 0; s + 1 < a.ndim; s++) if (a.shape[s] === B && a.shape[s + 1] === T) return a.shape.slice(s + 2).reduce((p, d) => p * d, 1);
  throw new Error(`maxDiff: mask [${B}, ${T}] does not fit [${a.shape.join(', ')}]`);
}

export function maxAbs(t: Tensor): number {
  let m = 0;
  for (const v of t.toFloat64()) m = Math.max(m, Math.abs(v));
  return m;
}
