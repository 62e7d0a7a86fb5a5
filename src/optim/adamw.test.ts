// AdamW against torch: a two-step update whose values came from torch.optim.AdamW (float64), parameter
// groups, the null-grad rule, state save/load, and one step on the LLaVA fixtures (params + grads →
// step1.safetensors) with the README tolerances.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdamW } from './adamw.ts';
import { Parameter } from '../nn/module.ts';
import { tensor, type Tensor } from '../tensor/index.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { hfFixture } from '../util/paths.ts';

const param = (v: number[], dtype: 'float32' | 'float64' = 'float64'): Parameter => new Parameter(tensor(v, { dtype }));
const grad = (v: number[], dtype: 'float32' | 'float64' = 'float64'): Tensor => tensor(v, { dtype });

function assertClose(got: ArrayLike<number>, want: readonly number[], tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= tol, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
}

test('two steps equal torch.optim.AdamW (lr 0.1, wd 0.1, float64)', () => {
  const p = param([1, -2, 0.5, 0]);
  const opt = new AdamW([p], { lr: 0.1, weightDecay: 0.1 });
  p.grad = grad([0.1, -0.2, 0.3, 0]);
  opt.step();
  assertClose(p.toFloat64(), [0.890000009999999, -1.8800000049999999, 0.3950000033333332, 0.0], 1e-12, 'step 1');
  p.grad = grad([-0.05, 0.4, 0, 1]);
  opt.step();
  assertClose(p.toFloat64(), [0.8544663093033908, -1.897810356496037, 0.3240441810458211, -0.07441368130459296], 1e-12, 'step 2');
  const s = opt.stateOf('0')!;
  assert.equal(s.step, 2);
  assertClose(s.m, [0.004, 0.022, 0.027, 0.1], 1e-12, 'exp_avg');
  assertClose(s.v, [1.249e-5, 1.9996e-4, 8.991e-5, 1e-3], 1e-15, 'exp_avg_sq');
});

test('step(gradScale) reads every gradient times the scale: the same update as scaling the gradients first', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    const a = param([1, -2, 0.5, 0, 3], dtype), b = param([1, -2, 0.5, 0, 3], dtype);
    const folded = new AdamW([a], { lr: 0.1, weightDecay: 0.1 }), scaled = new AdamW([b], { lr: 0.1, weightDecay: 0.1 });
    for (const [g, c] of [[[0.1, -0.2, 0.3, 0, 2], 0.37], [[-0.05, 0.4, 0, 1, -3], 1], [[2, 2, -1, 0.5, 0], 0.05]] as const) {
      a.grad = grad([...g], dtype);
      folded.step(c);
      b.grad = grad(g.map((x) => x * c), dtype);
      scaled.step();
    }
    assertClose(a.toFloat64(), [...b.toFloat64()], dtype === 'float64' ? 1e-12 : 1e-6, `${dtype} params`);
    assertClose(folded.stateOf('0')!.v, [...scaled.stateOf('0')!.v], dtype === 'float64' ? 1e-15 : 1e-8, `${dtype} exp_avg_sq`);
  }
  const p = param([1]), opt = new AdamW([p]);
  p.grad = grad([1]);
  for (const bad of [0, -1, NaN, Infinity]) assert.throws(() => opt.step(bad), /gradScale must be a positive finite number/);
});

test('a parameter without a grad is untouched, not decayed, and its step does not advance', () => {
  const a = param([1, 2]), b = param([3, 4]);
  const opt = new AdamW([['a', a], ['b', b]], { lr: 0.1, weightDecay: 0.5 });
  a.grad = grad([1, 1]);
  opt.step();
  assert.deepEqual(b.toList(), [3, 4]);
  assert.equal(opt.stateOf('b'), undefined);
  b.grad = grad([1, 1]);
  a.grad = null;
  const aBefore = a.toList();
  opt.step();
  assert.deepEqual(a.toList(), aBefore);
  assert.equal(opt.stateOf('a')!.step, 1);
  assert.equal(opt.stateOf('b')!.step, 1);
  // b's first step: decay then ≈ lr·sign(g)
  assertClose(b.toFloat64(), [3 * 0.95 - 0.1, 4 * 0.95 - 0.1], 1e-8, 'b');
});

test('parameter groups keep their own lr and weight decay; setLr and scaleLr change them', () => {
  const fast = param([1]), slow = param([1]), noDecay = param([1]);
  const opt = new AdamW([
    { params: [['fast', fast]], lr: 0.1 },
    { params: [['slow', slow]], lr: 0.01 },
    { params: [['norm', noDecay]], lr: 0.1, weightDecay: 0 },
  ], { weightDecay: 0.2 });
  for (const p of [fast, slow, noDecay]) p.grad = grad([2]);
  opt.step();
  // first step: p·(1 − lr·wd) − lr·g/(|g| + eps·…) ≈ p·(1 − lr·wd) − lr
  assertClose(fast.toFloat64(), [1 * (1 - 0.1 * 0.2) - 0.1], 1e-8, 'fast');
  assertClose(slow.toFloat64(), [1 * (1 - 0.01 * 0.2) - 0.01], 1e-8, 'slow');
  assertClose(noDecay.toFloat64(), [1 - 0.1], 1e-8, 'noDecay');
  opt.setLr(1, 0.5);
  assert.equal(opt.groups[1]!.lr, 0.5);
  opt.scaleLr(0.5);
  assert.deepEqual(opt.groups.map((g) => g.lr), [0.05, 0.005, 0.05]);
  assert.throws(() => opt.setLr(3, 1), /no group 3/);
});

test('zeroGrad drops the grads; bad input is named', () => {
  const p = param([1, 2]);
  const opt = new AdamW([['w', p]]);
  p.grad = grad([1, 1]);
  opt.zeroGrad();
  assert.equal(p.grad, null);
  p.grad = grad([1, 1, 1]);
  assert.throws(() => opt.step(), /gradient of w has shape \[3\], parameter has \[2\]/);
  assert.throws(() => new AdamW([['w', p], ['w2', p]]), /w2 appears more than once/);
  assert.throws(() => new AdamW([p], { lr: -1 }), /invalid lr -1/);
  assert.throws(() => new AdamW([p], { betas: [0.9, 1] }), /invalid beta2 1/);
});

test('stateDict / loadStateDict resumes exactly', () => {
  const grads = [[0.3, -0.1, 0.2], [0.1, 0.5, -0.4], [-0.2, 0.2, 0.1], [0.05, -0.3, 0.6]];
  const run = (split: boolean): number[] => {
    let p = param([0.5, -0.5, 1], 'float32');
    let opt = new AdamW([['w', p]], { lr: 0.05 });
    grads.forEach((g, i) => {
      if (split && i === 2) {
        // "kill" the run: a fresh parameter and optimiser from saved values
        const sd = opt.stateDict();
        const saved = p.toList();
        p = param(saved, 'float32');
        opt = new AdamW([['w', p]], { lr: 123 });
        opt.loadStateDict(JSON.parse(JSON.stringify(sd, (_k, v: unknown) => (v instanceof Float32Array ? Array.from(v) : v))));
      }
      p.grad = grad(g, 'float32');
      opt.step();
    });
    return p.toList();
  };
  assert.deepEqual(run(true), run(false));
});

test('loadStateDict names what does not fit', () => {
  const p = param([1, 2]);
  const opt = new AdamW([['w', p]]);
  p.grad = grad([1, 1]);
  opt.step();
  const sd = opt.stateDict();
  const other = new AdamW([['u', param([1, 2])]]);
  assert.throws(() => other.loadStateDict(sd, 'ckpt/opt.json'), /ckpt\/opt\.json.*missing u; unexpected w/);
  const short = new AdamW([['w', param([1, 2, 3])]]);
  assert.throws(() => short.loadStateDict(sd), /w\.m has 2 values, parameter \[3\] has 3/);
  assert.throws(() => opt.loadStateDict({ ...sd, groups: [] }), /0 group\(s\), optimiser has 1/);
});

for (const name of ['llava-clip-llama', 'llava-siglip-qwen2']) {
  const dir = hfFixture(name);
  test(`one AdamW step matches step1.safetensors (${name})`, { skip: dir ? false : 'shared fixtures absent' }, () => {
    const meta = JSON.parse(readFileSync(join(dir!, 'meta.json'), 'utf8')) as { training?: { params_without_grad?: string[]; optimizer?: string } };
    const withoutGrad = new Set(meta.training?.params_without_grad ?? []);
    const model = openSafetensors(join(dir!, 'model.safetensors'));
    const grads = openSafetensors(join(dir!, 'grads.safetensors'));
    const step1 = openSafetensors(join(dir!, 'step1.safetensors'));
    const params: [string, Parameter][] = model.keys().map((k) => {
      const p = new Parameter(tensor(model.readFloat32(k), { shape: model.info(k).shape }));
      if (grads.has(k)) p.grad = tensor(grads.readFloat32(k), { shape: grads.info(k).shape });
      else assert.ok(withoutGrad.has(k), `${k} has no grad but is not listed in params_without_grad`);
      return [k, p];
    });
    const opt = new AdamW(params, hyperparameters(meta.training?.optimizer ?? ''));
    opt.step();
    let maxDiff = 0, checked = 0;
    for (const [k, p] of params) {
      const got = p.toFloat32Array(), want = step1.readFloat32(k);
      if (withoutGrad.has(k)) {
        assert.deepEqual(got, want, `${k} has no grad and must be bitwise unchanged`);
        assert.deepEqual(got, model.readFloat32(k));
        continue;
      }
      const g = grads.readFloat32(k);
      for (let i = 0; i < got.length; i++) {
        if (Math.abs(g[i]!) <= 1e-5) continue;
        const d = Math.abs(got[i]! - want[i]!);
        if (d > maxDiff) maxDiff = d;
        checked++;
        assert.ok(d <= 1e-6, `${k}[${i}]: ${got[i]} vs ${want[i]} (grad ${g[i]})`);
      }
    }
    console.log(`${name}: ${params.length} params, ${withoutGrad.size} without grad, ${checked} elements checked, max diff ${maxDiff.toExponential(2)}`);
    for (const r of [model, grads, step1]) r.close();
  });
}

/** The hyperparameters from meta.training.optimizer ("torch.optim.AdamW(..., lr=0.001, betas=(0.9, 0.999), ...)"), README defaults else. */
function hyperparameters(call: string): { lr: number; betas: [number, number]; eps: number; weightDecay: number } {
  const num = (key: string, fallback: number): number => {
    const m = new RegExp(`\\b${key}=([-+0-9.eE]+)`).exec(call);
    return m ? Number(m[1]) : fallback;
  };
  const betas = /betas=\(([-+0-9.eE]+), *([-+0-9.eE]+)\)/.exec(call);
  return {
    lr: num('lr', 1e-3),
    betas: betas ? [Number(betas[1]), Number(betas[2])] : [0.9, 0.999],
    eps: num('eps', 1e-8),
    weightDecay: num('weight_decay', 0.01),
  };
}
