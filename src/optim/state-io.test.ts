// The optimiser state through a safetensors file: a run saved, "killed" and resumed from the file
// continues bit for bit; a file that is not an optimiser state is refused by name.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdamW } from './adamw.ts';
import { loadOptimizerState, optimizerStateFromReader, optimizerStateTensors, saveOptimizerState } from './state-io.ts';
import { Parameter } from '../nn/module.ts';
import { tensor } from '../tensor/index.ts';
import { encodeSafetensors, readSafetensorsBuffer } from '../io/safetensors.ts';

const grads = [[0.3, -0.1, 0.2, 1e-3], [0.1, 0.5, -0.4, 0], [-0.2, 0.2, 0.1, 2], [0.05, -0.3, 0.6, -1]];

function train(resumeAt: number | null, dir: string): number[] {
  let a = new Parameter(tensor([0.5, -0.5, 1, 2])), b = new Parameter(tensor([1, 2]));
  const build = (): AdamW => new AdamW([{ params: [['a', a]], lr: 0.05 }, { params: [['b', b]], lr: 0.01, weightDecay: 0 }]);
  let opt = build();
  grads.forEach((g, i) => {
    if (i === resumeAt) {
      saveOptimizerState(join(dir, 'opt.safetensors'), opt.stateDict());
      a = new Parameter(tensor(a.toFloat32Array()));
      b = new Parameter(tensor(b.toFloat32Array()));
      opt = build();
      opt.loadStateDict(loadOptimizerState(join(dir, 'opt.safetensors')));
    }
    a.grad = tensor(g);
    if (i % 2 === 0) b.grad = tensor([g[0]!, g[1]!]); // b skips odd steps: its step count lags a's
    opt.step();
    opt.zeroGrad();
  });
  return [...a.toList(), ...b.toList(), opt.stateOf('a')!.step, opt.stateOf('b')!.step];
}

test('resuming from a saved optimiser state file continues bit for bit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-optim-'));
  try {
    const straight = train(null, dir);
    assert.deepEqual(straight.slice(-2), [4, 2]);
    assert.deepEqual(train(1, dir), straight);
    assert.deepEqual(train(3, dir), straight);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the file keeps torch names and refuses what is not an optimiser state', () => {
  const p = new Parameter(tensor([1, 2]));
  const opt = new AdamW([['layers.0.w', p]]);
  p.grad = tensor([1, -1]);
  opt.step();
  const { tensors, metadata } = optimizerStateTensors(opt.stateDict());
  assert.deepEqual(Object.keys(tensors), ['layers.0.w.exp_avg', 'layers.0.w.exp_avg_sq']);
  const back = optimizerStateFromReader(readSafetensorsBuffer(encodeSafetensors(tensors, metadata), 'opt.safetensors'));
  assert.equal(back.state['layers.0.w']!.step, 1);
  assert.deepEqual(Array.from(back.state['layers.0.w']!.m), Array.from(opt.stateOf('layers.0.w')!.m));
  const weights = encodeSafetensors({ w: { dtype: 'float32', shape: [2], data: new Float32Array(2) } });
  assert.throws(() => optimizerStateFromReader(readSafetensorsBuffer(weights, 'model.safetensors')), /model\.safetensors: not an optimizer state/);
  const stray = encodeSafetensors({ ...tensors, extra: { dtype: 'float32', shape: [1], data: new Float32Array(1) } }, metadata);
  assert.throws(() => optimizerStateFromReader(readSafetensorsBuffer(stray, 'x')), /without a step count: extra/);
});
