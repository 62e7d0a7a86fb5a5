// The shared heap allocator under random alloc/free sequences: alignment, no overlap, coalescing, growth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { WasmHeap } from './memory.ts';

function rng(seed: number): () => number {
  return () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
}

test('random alloc/free never overlaps, stays 64-byte aligned and coalesces back to one range', () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 4096, shared: true });
  const heap = new WasmHeap(memory, 1024, 4096);
  const rand = rng(7);
  const live = new Map<number, { n: number; tag: number }>();
  for (let step = 0; step < 3000; step++) {
    if (live.size > 0 && rand() < 0.45) {
      const ptrs = [...live.keys()];
      const ptr = ptrs[Math.floor(rand() * ptrs.length)]!;
      const { n, tag } = live.get(ptr)!;
      assert.ok(heap.f32(ptr, n).every((v) => v === tag), `block ${ptr} was overwritten`);
      heap.free(ptr);
      live.delete(ptr);
    } else {
      const n = Math.floor(rand() * (rand() < 0.05 ? 200000 : 3000));
      const b = heap.alloc(n);
      assert.equal(b.ptr % 64, 0);
      assert.ok(b.ptr >= 1024);
      b.array.fill(step);
      live.set(b.ptr, { n, tag: step });
    }
  }
  const spans = [...live.entries()].map(([p]) => [p, p + heap.blockSize(p)!] as const).sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) assert.ok(spans[i]![0] >= spans[i - 1]![1], 'blocks overlap');
  for (const [ptr, { n, tag }] of live) {
    assert.ok(heap.f32(ptr, n).every((v) => v === tag), `block ${ptr} lost its data across growth`);
    heap.free(ptr);
  }
  const s = heap.stats();
  assert.equal(s.bytesInUse, 0);
  assert.equal(s.liveBlocks, 0);
  assert.equal(s.freeRanges, 1, 'free ranges did not coalesce');
  assert.ok(s.peakBytes > 0 && s.heapBytes >= s.peakBytes);
});

test('growth keeps old views valid and owns() accepts views of every buffer generation', () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1024, shared: true });
  const heap = new WasmHeap(memory, 1024, 1024);
  const a = heap.alloc(100);
  a.array.fill(3);
  const big = heap.alloc(4 << 20); // forces memory.grow
  assert.ok(memory.buffer.byteLength > 65536);
  a.array[0] = 5; // the pre-growth view still aliases the same bytes
  assert.equal(heap.f32(a.ptr, 1)[0], 5);
  assert.ok(heap.owns(a.array) && heap.owns(big.array));
  assert.equal(heap.owns(new Float32Array(10)), false);
});

test('bad frees and sizes are clear errors; out of memory names the limit', () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true });
  const heap = new WasmHeap(memory, 1024, 2);
  const b = heap.alloc(10);
  heap.free(b.ptr);
  assert.throws(() => heap.free(b.ptr), /not a live block/);
  assert.throws(() => heap.alloc(-1), /non-negative integer/);
  assert.throws(() => heap.alloc(1 << 20), /out of memory/);
});

test('freeWhenCollected frees the block once its owner is garbage-collected', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
  const heap = new WasmHeap(memory, 1024, 16);
  const keep = { block: heap.alloc(100) };
  heap.freeWhenCollected(keep, keep.block.ptr);
  (() => {
    const owner = { block: heap.alloc(100) };
    heap.freeWhenCollected(owner, owner.block.ptr);
  })();
  assert.equal(heap.stats().liveBlocks, 2);
  for (let i = 0; i < 20 && heap.stats().liveBlocks > 1; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(heap.stats().liveBlocks, 1, 'the collected owner\'s block was not freed');
  assert.ok(heap.blockSize(keep.block.ptr) !== undefined);
});
