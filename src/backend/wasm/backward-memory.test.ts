// backward() gives the gradients it is done with back to the wasm heap at once (autograd.ts, Backend.release):
// the heap holds less after a pass, and nothing that outlives the pass is freed: leaf gradients, the caller's
// gradient, a gradient that is a view of another, one that aliases another's memory through a second typed
// array, a tensor used twice. Freed memory is then overwritten on purpose; every gradient must still equal
// the reference backend's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withBackend } from '../registry.ts';
import { referenceBackend } from '../reference/index.ts';
import { createWasmBackend } from './index.ts';
import * as T from '../../tensor/index.ts';
import { Rng, Tensor } from '../../tensor/index.ts';
import { floatStorage, output } from '../../tensor/ops/util.ts';

/** Identity whose backward hands back g's memory through a second Float32Array over the same bytes. */
function aliasIdentity(x: Tensor): Tensor {
  return output(x.contiguous().storage, x.dtype, x.shape, [x], 'aliasIdentity', (g) => {
    const s = floatStorage(g.contiguous()) as Float32Array;
    return [new Tensor(new Float32Array(s.buffer, s.byteOffset, s.length), g.dtype, g.shape)];
  });
}

interface Leaves { x: Tensor; w: Tensor; v: Tensor; u: Tensor }
function leaves(seed: number): Leaves {
  const rng = new Rng(seed);
  return {
    x: T.randn([48, 40], { rng }).requireGrad(),
    w: T.randn([40, 56], { rng, std: 0.2 }).requireGrad(),
    v: T.randn([56], { rng }).requireGrad(),
    u: T.randn([48, 56], { rng }).requireGrad(),
  };
}

/** A graph with views, reuse and an aliasing rule; returns the loss. */
function graph({ x, w, v, u }: Leaves): Tensor {
  const h = u.add(x.matmul(w)).tanh(); // [48, 56]; add hands one gradient tensor to u (a leaf, visited first) and to x·w
  const twice = h.mul(h).add(h); // h used three times
  const viewed = aliasIdentity(twice.reshape([48 * 56])).reshape([48, 56]).transpose(0, 1).contiguous();
  return viewed.transpose(0, 1).mul(v).sigmoid().sum();
}

test('backward frees its spent gradients on the wasm heap, and every gradient that outlives the pass is intact', async () => {
  const wasm = await createWasmBackend(2);
  try {
    const want = withBackend(referenceBackend, () => {
      const l = leaves(1);
      graph(l).backward();
      return [l.x, l.w, l.v, l.u].map((t) => t.grad!.toList() as number[]);
    });
    withBackend(wasm, () => {
      const heap = wasm.runtime.heap;
      const grown = (retainGraph: boolean, seed: number) => {
        const l = leaves(seed);
        const loss = graph(l);
        const before = heap.stats().bytesInUse;
        loss.backward(undefined, { retainGraph });
        return { bytes: heap.stats().bytesInUse - before, l };
      };
      // the same pass keeping its tape (no freeing) against the default
      const kept = grown(true, 1), freed = grown(false, 1);
      assert.ok(freed.bytes < kept.bytes * 0.8, `freed pass grew the heap by ${freed.bytes} B, the retained one by ${kept.bytes} B`);
      // overwrite whatever was freed, then compare with the reference
      const junk = Array.from({ length: 40 }, () => T.full([48, 56], 1e6));
      assert.ok(junk.length > 0);
      const got = [freed.l.x, freed.l.w, freed.l.v, freed.l.u].map((t) => t.grad!.toList() as number[]);
      for (let i = 0; i < 4; i++) {
        const err = Math.max(...got[i]!.map((g, j) => Math.abs(g - want[i]![j]!)));
        assert.ok(err < 1e-4, `leaf ${i}: max error ${err}`);
      }
      // the caller's gradient is never freed; a second pass accumulates onto the first
      const l = leaves(1);
      const y = graph(l);
      const seed = T.full([], 1);
      y.backward(seed);
      T.full([48, 56], -7); // would land on a wrongly freed block
      assert.equal(seed.item(), 1);
      graph(l).backward();
      const twiceGrad = l.w.grad!.toList() as number[];
      const err = Math.max(...twiceGrad.map((g, j) => Math.abs(g - 2 * want[1]![j]!)));
      assert.ok(err < 2e-4, `accumulated gradient: max error ${err}`);
    });
  } finally {
    await wasm.runtime.close();
  }
});
