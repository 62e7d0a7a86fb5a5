// The AdamW state as a safetensors file, so a training checkpoint can carry it next to the weights:
// moments as `<param>.exp_avg` / `<param>.exp_avg_sq` (torch's names), step counts and group
// hyperparameters as JSON in the header metadata. Float32/float64 round-trip bit for bit.

import type { AdamWStateDict } from './adamw.ts';
import type { FloatStorage } from '../tensor/dtype.ts';
import type { SafetensorsReader, TensorData } from '../io/safetensors.ts';
import { openSafetensors, writeSafetensors } from '../io/safetensors.ts';

const format = 'tessera-adamw-v1';

/** Tensors and metadata for writeSafetensors/encodeSafetensors. */
export function optimizerStateTensors(sd: AdamWStateDict): { tensors: Record<string, TensorData>; metadata: Record<string, string> } {
  const tensors: Record<string, TensorData> = {};
  const steps: Record<string, number> = {};
  for (const [name, s] of Object.entries(sd.state)) {
    steps[name] = s.step;
    tensors[`${name}.exp_avg`] = dataOf(s.m);
    tensors[`${name}.exp_avg_sq`] = dataOf(s.v);
  }
  return { tensors, metadata: { format, groups: JSON.stringify(sd.groups), steps: JSON.stringify(steps) } };
}

/** Reads back what optimizerStateTensors wrote; `reader.path` names the file in errors. */
export function optimizerStateFromReader(reader: SafetensorsReader): AdamWStateDict {
  const where = reader.path;
  if (reader.metadata.format !== format) {
    throw new Error(`${where}: not an optimizer state (metadata format is ${reader.metadata.format ?? 'missing'}, expected ${format})`);
  }
  let groups: AdamWStateDict['groups'], steps: Record<string, number>;
  try {
    groups = JSON.parse(reader.metadata.groups ?? '') as AdamWStateDict['groups'];
    steps = JSON.parse(reader.metadata.steps ?? '') as Record<string, number>;
  } catch {
    throw new Error(`${where}: metadata fields groups/steps are not valid JSON`);
  }
  const state: AdamWStateDict['state'] = {};
  for (const [name, step] of Object.entries(steps)) {
    const m = reader.read(`${name}.exp_avg`).data, v = reader.read(`${name}.exp_avg_sq`).data;
    if (!(m instanceof Float32Array || m instanceof Float64Array) || !(v instanceof Float32Array || v instanceof Float64Array)) {
      throw new Error(`${where}: moments of ${name} must be float32 or float64`);
    }
    state[name] = { step, m, v };
  }
  const known = new Set(Object.keys(steps).flatMap((n) => [`${n}.exp_avg`, `${n}.exp_avg_sq`]));
  const stray = reader.keys().filter((k) => !known.has(k));
  if (stray.length) throw new Error(`${where}: tensors without a step count: ${stray.slice(0, 10).join(', ')}`);
  return { groups, state };
}

export function saveOptimizerState(path: string, sd: AdamWStateDict): void {
  const { tensors, metadata } = optimizerStateTensors(sd);
  writeSafetensors(path, tensors, metadata);
}

export function loadOptimizerState(path: string): AdamWStateDict {
  const reader = openSafetensors(path);
  try {
    return optimizerStateFromReader(reader);
  } finally {
    reader.close();
  }
}

function dataOf(x: FloatStorage): TensorData {
  return x instanceof Float64Array ? { dtype: 'float64', shape: [x.length], data: x } : { dtype: 'float32', shape: [x.length], data: x };
}
