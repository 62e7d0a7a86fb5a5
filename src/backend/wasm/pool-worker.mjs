// A tessera wasm pool worker: instantiates the kernel module over the shared memory, then serves jobs
// posted through the control block (see pool.ts for the slot layout and the claim protocol) until it gets the close op.
// Every way out of the loop (close, an exception outside the kernel call) clears ALIVE and publishes DONE,
// so the caller never waits on a worker that has stopped; a kernel that throws is reported through ERR and
// the message area, and the worker goes on serving.
// Plain JS so it loads in any Worker without a TypeScript loader.
//
// JS ops (pool.ts loadOps): OP = -2 asks the worker to import the module named in its message area
// ({"url", "config", "base"} as JSON), call its `init({ memory, exports, config, worker })` (exports: this worker's
// wasm instance), and put the functions of its `ops` object in the op table from index `base` on, in the order the
// main thread registers them (Object.entries order).
import { parentPort, workerData } from 'node:worker_threads';

const { module, memory, ctlBuffer, argBuffer, msgBuffer, index, opNames, spin, sliceMs, slot } = workerData;
const ctl = new Int32Array(ctlBuffer);
const args = new Float64Array(argBuffer);
const msg = new Uint8Array(msgBuffer, index * slot.msgBytes, slot.msgBytes);
const base = index * slot.ints;
const SEQ = base + slot.SEQ, OP = base + slot.OP, NARGS = base + slot.NARGS, ERR = base + slot.ERR;
const ACK = base + slot.ACK, DONE = base + slot.DONE, ALIVE = base + slot.ALIVE, BEAT = base + slot.BEAT, CLAIM = base + slot.CLAIM;
const RESULT = index * slot.args + slot.args - 1;

function report(e) {
  const text = new TextEncoder().encode(e instanceof Error ? `${e.name}: ${e.message}` : String(e)).subarray(0, slot.msgBytes - 1);
  msg.fill(0);
  msg.set(text);
  Atomics.store(ctl, ERR, 1);
}

const instance = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error('wasm abort'); } } });
const fns = opNames.map((name) => instance.exports[name]);
const LOAD_OPS = -2;

async function loadOps() {
  const bytes = msg.slice(); // a copy: TextDecoder refuses shared views
  const end = bytes.indexOf(0);
  const { url, config, base } = JSON.parse(new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end)));
  const mod = await import(url);
  mod.init?.({ memory, exports: instance.exports, config, worker: index });
  fns.length = base; // drop what a load the main thread did not register left behind
  for (const f of Object.values(mod.ops)) fns.push(f);
}
// read the sequence number before announcing readiness, or a job posted in between would be missed
let seen = Atomics.load(ctl, SEQ);
Atomics.store(ctl, DONE, seen);
Atomics.store(ctl, ALIVE, 1);
parentPort.postMessage('ready');
try {
  for (;;) {
    for (let i = 0; i < spin && Atomics.load(ctl, SEQ) === seen; i++);
    // sleep in slices; the beat shows an idle worker is still alive
    while (Atomics.load(ctl, SEQ) === seen) {
      if (Atomics.wait(ctl, SEQ, seen, sliceMs) === 'timed-out') Atomics.add(ctl, BEAT, 1);
    }
    seen = Atomics.load(ctl, SEQ);
    // take the job, unless the caller already took it back and ran it itself (see pool.ts)
    if (Atomics.compareExchange(ctl, CLAIM, seen, seen + slot.TAKEN) !== seen) continue;
    Atomics.store(ctl, ACK, seen);
    const op = ctl[OP];
    if (op === LOAD_OPS) {
      try {
        await loadOps();
      } catch (e) {
        report(e);
      }
      Atomics.store(ctl, DONE, seen);
      Atomics.notify(ctl, DONE);
      continue;
    }
    if (op < 0) break;
    try {
      const r = fns[op](...args.subarray(index * slot.args, index * slot.args + ctl[NARGS]));
      args[RESULT] = typeof r === 'number' ? r : 0;
    } catch (e) {
      report(e);
    }
    Atomics.store(ctl, DONE, seen);
    Atomics.notify(ctl, DONE);
  }
} catch (e) {
  report(e);
} finally {
  Atomics.store(ctl, ALIVE, 0);
  Atomics.store(ctl, DONE, seen);
  Atomics.notify(ctl, DONE);
}
