// A tessera wasm pool worker: instantiates the kernel module over the shared memory, then serves jobs
// posted through the control block (see pool.ts for the layout) until it gets the close op.
// Plain JS so it loads in any Worker without a TypeScript loader.
import { parentPort, workerData } from 'node:worker_threads';

const { module, memory, ctlBuffer, argBuffer, index, opNames, slotInts, slotArgs, spin } = workerData;
const ctl = new Int32Array(ctlBuffer);
const args = new Float64Array(argBuffer);
const instance = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error('wasm abort'); } } });
const fns = opNames.map((name) => instance.exports[name]);
const SEQ = index * slotInts, OP = SEQ + 1, NARGS = SEQ + 2, ERR = SEQ + 3;
const PENDING = 0;
// read the sequence number before announcing readiness, or a job posted in between would be missed
let seen = Atomics.load(ctl, SEQ);
parentPort.postMessage('ready');
for (;;) {
  for (let i = 0; i < spin && Atomics.load(ctl, SEQ) === seen; i++);
  if (Atomics.load(ctl, SEQ) === seen) Atomics.wait(ctl, SEQ, seen);
  seen = Atomics.load(ctl, SEQ);
  const op = ctl[OP];
  if (op < 0) break;
  const a = args.subarray(index * slotArgs, index * slotArgs + ctl[NARGS]);
  try {
    const r = fns[op](...a);
    args[index * slotArgs + slotArgs - 1] = typeof r === 'number' ? r : 0;
    ctl[ERR] = 0;
  } catch (e) {
    ctl[ERR] = 1;
    console.error(`tessera wasm worker ${index}: ${opNames[op]} failed:`, e);
  }
  if (Atomics.sub(ctl, PENDING, 1) === 1) Atomics.notify(ctl, PENDING);
}
if (Atomics.sub(ctl, PENDING, 1) === 1) Atomics.notify(ctl, PENDING);
