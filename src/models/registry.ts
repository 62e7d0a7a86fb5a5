// Which code runs which checkpoint: each model family registers the `model_type` values of config.json it
// understands. `loadModel(dir)` reads config.json and hands it to the family's loader; an unknown type is a
// clear error naming the file and the types we know.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Module } from '../nn/module.ts';
import type { Tensor } from '../tensor/tensor.ts';

/** Named tensors in and out, under their transformers names (`input_ids`, `pixel_values`, `logits`, …). */
export type NamedTensors = Map<string, Tensor>;

export interface LoadedModel {
  readonly modelType: string;
  readonly dir: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly module: Module;
  /** Runs the model on named inputs; returns `logits` (or `encoder_last_hidden_state`), plus `loss` when `labels` are given. */
  forward(inputs: NamedTensors): NamedTensors;
  /** Checkpoint key of a runtime parameter name (for writing gradients under model.safetensors keys). */
  checkpointKey(paramName: string): string;
  /** Greedy continuation of each row (left padding as transformers), when the model generates text. */
  generate?(inputs: NamedTensors, maxNewTokens: number): number[][];
}

export type Loader = (dir: string, config: Record<string, unknown>) => LoadedModel;

const loaders = new Map<string, Loader>();

export function registerModel(modelTypes: readonly string[], loader: Loader): void {
  for (const t of modelTypes) loaders.set(t, loader);
}

export function readConfig(dir: string): Record<string, unknown> {
  const path = join(dir, 'config.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
  let cfg: unknown;
  try {
    cfg = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) throw new Error(`${path} must hold a JSON object`);
  return cfg as Record<string, unknown>;
}

export async function loadModel(dir: string): Promise<LoadedModel> {
  await import('./all.ts');
  const config = readConfig(dir);
  const type = config.model_type;
  if (typeof type !== 'string') throw new Error(`${join(dir, 'config.json')} has no string "model_type"`);
  const loader = loaders.get(type);
  if (!loader) {
    throw new Error(`${join(dir, 'config.json')}: unknown model_type "${type}"; tessera knows: ${[...loaders.keys()].sort().join(', ') || '(none)'}`);
  }
  return loader(dir, config);
}
