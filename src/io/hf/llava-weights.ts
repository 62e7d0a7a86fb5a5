// Checkpoint key ↔ runtime parameter name for LLaVA (transformers `LlavaForConditionalGeneration`), and loading
// a checkpoint folder into a module. save_pretrained writes the original layout (`vision_tower.*`,
// `multi_modal_projector.*`, `language_model.model.*`, `language_model.lm_head.weight`); hub checkpoints keep
// CLIP/SigLIP's `vision_tower.vision_model.*` prefix; a model saved under runtime names uses
// `model.vision_tower.*`, `model.language_model.*`, `lm_head.weight`. All of them load.

import { basename } from 'node:path';
import type { Module } from '../../nn/module.ts';
import { openCheckpoint } from '../checkpoint.ts';
import type { TensorData } from '../safetensors.ts';

/** Runtime name (`model.vision_tower.…`) of a checkpoint key, or null when the key belongs to no LLaVA part. */
export function llavaRuntimeName(key: string): string | null {
  let k = key.startsWith('model.') ? key.slice('model.'.length) : key;
  if (k === 'lm_head.weight' || key === 'language_model.lm_head.weight') return 'lm_head.weight';
  if (k.startsWith('language_model.model.')) k = `language_model.${k.slice('language_model.model.'.length)}`;
  if (k.startsWith('vision_tower.vision_model.')) k = `vision_tower.${k.slice('vision_tower.vision_model.'.length)}`;
  if (k.startsWith('vision_tower.') || k.startsWith('multi_modal_projector.') || k.startsWith('language_model.')) return `model.${k}`;
  return null;
}

/** The key save_pretrained would write for a runtime name (used when a parameter was not loaded from disk). */
export function llavaCheckpointKey(name: string): string {
  if (name === 'lm_head.weight') return 'language_model.lm_head.weight';
  if (name.startsWith('model.language_model.')) return `language_model.model.${name.slice('model.language_model.'.length)}`;
  return name.startsWith('model.') ? name.slice('model.'.length) : name;
}

export interface LoadReport {
  /** Runtime name → the checkpoint key it was read from. */
  readonly keyOf: ReadonlyMap<string, string>;
  /** Checkpoint keys deliberately skipped (a stored lm_head when the embeddings are tied). */
  readonly skipped: readonly string[];
}

/**
 * Reads every tensor of `dir` (model.safetensors or a sharded index) into `module`, mapping keys with
 * `toRuntime`. float16/bfloat16 are widened to float32. Unknown, missing and mis-shaped keys are one error
 * naming the file and the keys. `ignore` lists runtime names the checkpoint may hold but the model lacks.
 */
export function loadCheckpointInto(module: Module, dir: string, toRuntime: (key: string) => string | null,
  ignore: ReadonlySet<string> = new Set()): LoadReport {
  const reader = openCheckpoint(dir);
  try {
    const own = module.stateDict();
    const source = new Map<string, TensorData>();
    const keyOf = new Map<string, string>();
    const unexpected: string[] = [], skipped: string[] = [];
    for (const key of reader.keys()) {
      const name = toRuntime(key);
      if (name !== null && ignore.has(name) && !own.has(name)) { skipped.push(key); continue; }
      if (name === null || !own.has(name)) { unexpected.push(`${key} (in ${basename(reader.fileOf(key))})`); continue; }
      if (keyOf.has(name)) throw new Error(`${dir}: keys "${keyOf.get(name)}" and "${key}" both map to parameter ${name}`);
      const info = reader.info(key);
      if (info.dtype !== 'float32' && info.dtype !== 'float16' && info.dtype !== 'bfloat16' && info.dtype !== 'float64') {
        throw new Error(`${reader.fileOf(key)}: key "${key}" has dtype ${info.dtype}, expected a float type`);
      }
      keyOf.set(name, key);
      source.set(name, reader.read(key));
    }
    if (unexpected.length) {
      throw new Error(`${dir}: ${unexpected.length} unexpected checkpoint key(s): ${unexpected.slice(0, 10).join(', ')}${unexpected.length > 10 ? ', …' : ''}`);
    }
    const missing = [...own.keys()].filter((n) => !source.has(n));
    if (missing.length) {
      throw new Error(`${dir}: ${missing.length} parameter(s) missing from the checkpoint: ${missing.slice(0, 10).map((n) => `${n} (key ${llavaCheckpointKey(n)})`).join(', ')}${missing.length > 10 ? ', …' : ''}`);
    }
    module.loadStateDict(source, { source: dir });
    return { keyOf, skipped };
  } finally {
    reader.close();
  }
}
