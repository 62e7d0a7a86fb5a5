// Gradients of the LLaVA loss against transformers' grads.safetensors, per parameter, and the set of
// parameters that must get no gradient at all (CLIP's unused last layer and post_layernorm, SigLIP's head).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { hfFixture } from '../../util/paths.ts';
import { readConfig } from '../registry.ts';
import { maxAbs, maxDiff, readMeta, readTensors } from '../../io/hf/fixture.ts';
import { loadLlava } from './llava.ts';

for (const name of ['llava-clip-llama', 'llava-siglip-qwen2']) {
  const dir = hfFixture(name);
  test(`${name}: d(loss)/d(param) matches transformers`, { skip: !dir }, () => {
    const model = loadLlava(dir!, readConfig(dir!));
    const io = readTensors(join(dir!, 'io.safetensors'));
    const grads = readTensors(join(dir!, 'grads.safetensors'));
    const meta = readMeta(dir!) as { training: { params_without_grad: string[] } };
    const named = new Map([...io].filter(([k]) => ['input_ids', 'pixel_values', 'attention_mask', 'labels'].includes(k)));
    model.forward(named).get('loss')!.backward();
    const withoutGrad: string[] = [];
    let worst = 0, worstName = '';
    for (const [param, p] of model.module.namedParameters()) {
      const key = model.checkpointKey(param);
      const ref = grads.get(key);
      if (!ref) {
        assert.equal(p.grad, null, `${key} must get no gradient`);
        withoutGrad.push(key);
        continue;
      }
      assert.ok(p.grad, `${key} got no gradient`);
      const d = maxDiff(p.grad, ref), scale = maxAbs(ref);
      // k_proj biases have an analytically zero gradient (softmax ignores a per-query constant): both sides are
      // float noise around 1e-9 there, so they are held to an absolute bound instead of a relative one.
      if (scale < 1e-6) { assert.ok(maxAbs(p.grad) < 1e-6, `${key}: gradient should vanish, got ${maxAbs(p.grad)}`); continue; }
      assert.ok(d <= 1e-4 * scale, `${key}: grad maxdiff ${d} > 1e-4 · ${scale}`);
      if (d / scale > worst) { worst = d / scale; worstName = key; }
    }
    console.log(`${name}: worst relative grad maxdiff ${worst.toExponential(2)} (${worstName})`);
    assert.deepEqual(withoutGrad.sort(), [...meta.training.params_without_grad].sort());
  });
}
