// Training checkpoints: one directory per step, `<run>/checkpoints/step-00000040/` holding the weights
// (model.safetensors, every parameter, float32 bit for bit), the AdamW state (optimizer.safetensors via
// src/optim/state-io.ts) and trainer.json (step, data-order state, stage name). The directory is written
// under a temporary name and renamed into place, so a run killed mid-write leaves either the previous
// checkpoint or the complete new one; only the newest `keepLast` are kept.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Module } from '../nn/module.ts';
import type { AdamW } from '../optim/adamw.ts';
import { loadOptimizerState, saveOptimizerState } from '../optim/state-io.ts';
import { openSafetensors, writeSafetensors, type TensorData } from '../io/safetensors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import type { OrderState } from './order.ts';

export interface TrainerState {
  step: number;
  stage: string;
  order: OrderState;
  /** Tokens run through the model so far (for the log). */
  tokensSeen: number;
}

const stepDir = /^step-(\d+)$/;

export function checkpointsDir(runDir: string): string {
  return join(runDir, 'checkpoints');
}

/** All parameters as safetensors tensors (copies are not needed: the write happens before the next step). */
export function modelTensors(model: Module): Record<string, TensorData> {
  const out: Record<string, TensorData> = {};
  for (const [name, p] of model.namedParameters()) {
    if (p.dtype !== 'float32') throw new Error(`checkpoint: parameter ${name} is ${p.dtype}; training keeps float32 weights`);
    out[name] = { dtype: 'float32', shape: [...p.shape], data: (p.storage as Float32Array).subarray(p.offset, p.offset + p.size) };
  }
  return out;
}

/** Writes the checkpoint of `state.step` atomically and prunes old ones; returns its directory. */
export function saveCheckpoint(runDir: string, model: Module, opt: AdamW, state: TrainerState, keepLast: number): string {
  const root = checkpointsDir(runDir);
  mkdirSync(root, { recursive: true });
  const name = `step-${String(state.step).padStart(8, '0')}`;
  const tmp = join(root, `.tmp-${name}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  writeSafetensors(join(tmp, 'model.safetensors'), modelTensors(model), { format: 'tessera-train-v1' });
  saveOptimizerState(join(tmp, 'optimizer.safetensors'), opt.stateDict());
  writeFileAtomic(join(tmp, 'trainer.json'), [new TextEncoder().encode(`${JSON.stringify(state, null, 1)}\n`)]);
  const final = join(root, name);
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  for (const old of listCheckpoints(runDir).slice(0, -keepLast)) rmSync(old.dir, { recursive: true, force: true });
  return final;
}

/** Complete checkpoints in step order (temporary directories are ignored). */
export function listCheckpoints(runDir: string): { step: number; dir: string }[] {
  const root = checkpointsDir(runDir);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((n) => ({ m: stepDir.exec(n), n }))
    .filter((x) => x.m && existsSync(join(root, x.n, 'trainer.json')))
    .map((x) => ({ step: Number(x.m![1]), dir: join(root, x.n) }))
    .sort((a, b) => a.step - b.step);
}

export function latestCheckpoint(runDir: string): string | null {
  return listCheckpoints(runDir).at(-1)?.dir ?? null;
}

/** Loads weights and optimiser state in place and returns the trainer state; errors name the file. */
export function loadCheckpoint(dir: string, model: Module, opt: AdamW | null): TrainerState {
  const statePath = join(dir, 'trainer.json');
  let state: TrainerState;
  try {
    state = JSON.parse(readFileSync(statePath, 'utf8')) as TrainerState;
  } catch (e) {
    throw new Error(`${statePath}: cannot read trainer state (${(e as Error).message})`);
  }
  if (!Number.isInteger(state.step) || state.step < 0 || typeof state.order !== 'object') {
    throw new Error(`${statePath}: trainer state lacks step/order`);
  }
  loadModelWeights(join(dir, 'model.safetensors'), model);
  if (opt) opt.loadStateDict(loadOptimizerState(join(dir, 'optimizer.safetensors')), join(dir, 'optimizer.safetensors'));
  return state;
}

export function loadModelWeights(path: string, model: Module): void {
  const reader = openSafetensors(path);
  try {
    const map = new Map(reader.keys().map((k) => [k, reader.read(k)] as const));
    model.loadStateDict(map, { source: path });
  } finally {
    reader.close();
  }
}
