// The wasm kernels also take arrays that do not live in the wasm heap (e.g. made by another backend): they are
// copied in, and outputs copied back. Heap-resident arrays skip that step; both paths must give the same result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWasmRuntime } from './runtime.ts';
import { wasmKernels } from './index.ts';

test('kernels on arrays outside the heap equal the same kernels on heap arrays', async () => {
  const rt = await createWasmRuntime({ threads: 2 });
  try {
    const k = wasmKernels(rt);
    const n = 4099; // enough to split across both threads, odd for the scalar tail
    const xs = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3), ys = Float32Array.from({ length: n }, (_, i) => Math.cos(i));
    const view = (data: Float32Array) => ({ data, shape: [n], strides: [1], offset: 0 });
    const inHeap = (src: Float32Array) => { const a = rt.heap.alloc(src.length).array; a.set(src); return a; };
    // foreign inputs and output
    const outForeign = new Float32Array(n);
    k.binary!('mul', view(xs), view(ys), [n], outForeign);
    const expForeign = new Float32Array(n);
    k.unary!('exp', view(xs), expForeign);
    // heap inputs and output
    const outHeap = rt.heap.alloc(n).array, expHeap = rt.heap.alloc(n).array;
    k.binary!('mul', view(inHeap(xs)), view(inHeap(ys)), [n], outHeap);
    k.unary!('exp', view(inHeap(xs)), expHeap);
    // one of each
    const mixed = new Float32Array(n);
    k.binary!('mul', view(inHeap(xs)), view(ys), [n], mixed);
    for (let i = 0; i < n; i++) {
      assert.equal(outForeign[i], Math.fround(xs[i]! * ys[i]!), `mul[${i}]`);
      assert.equal(outHeap[i], outForeign[i]);
      assert.equal(mixed[i], outForeign[i]);
      assert.equal(expHeap[i], expForeign[i]);
      assert.ok(Math.abs(expForeign[i]! - Math.exp(xs[i]!)) <= 1e-5 * Math.exp(xs[i]!), `exp[${i}]`);
    }
  } finally {
    await rt.close();
  }
});
