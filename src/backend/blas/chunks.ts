// The shared counter pool workers claim chunks of a job from (pool-ops.mjs `chunks`).
import type { WasmRuntime } from '../wasm/runtime.ts';

/** A zeroed i32 in rt's heap from which pool workers claim chunks (pool-ops.mjs); one per runtime (run() is not re-entrant). */
const counters = new WeakMap<WasmRuntime, Int32Array>();
export function chunkCounter(rt: WasmRuntime): number {
  let c = counters.get(rt);
  if (!c) {
    c = rt.heap.i32(rt.heap.allocBytes(64), 1);
    counters.set(rt, c);
  }
  Atomics.store(c, 0, 0);
  return c.byteOffset;
}
