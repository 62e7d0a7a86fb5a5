// A fixed pool of wasm workers sharing one memory: the main thread is worker 0, node:worker_threads are 1..T-1.
// Dispatch goes through a SharedArrayBuffer control block and Atomics (no postMessage, no copies):
// per worker a slot {seq, op, nargs, err} in `ctl` plus SLOT_ARGS f64 arguments (the last holds the result).
// The caller bumps each worker's seq and notifies; workers spin a few µs on Atomics.load before Atomics.wait,
// so back-to-back kernel calls skip the futex wake-up. A shared `pending` counter brings the caller back.
import { Worker } from 'node:worker_threads';

const SLOT_INTS = 16; // slot 0 holds the global pending counter
const SLOT_ARGS = 32;
const SPIN = 20000; // Atomics.load iterations (a few µs) before sleeping
const PENDING = 0;

type WasmFn = (...args: number[]) => number | undefined;

export class WorkerPool {
  readonly size: number;
  private readonly workers: Worker[];
  private readonly ctl: Int32Array;
  private readonly args: Float64Array;
  private readonly opIndex: Map<string, number>;
  private readonly mainFns: WasmFn[];
  private closed = false;

  private constructor(size: number, workers: Worker[], ctl: Int32Array, args: Float64Array, opNames: string[], mainExports: WebAssembly.Exports) {
    this.size = size;
    this.workers = workers;
    this.ctl = ctl;
    this.args = args;
    this.opIndex = new Map(opNames.map((n, i) => [n, i]));
    this.mainFns = opNames.map((n) => mainExports[n] as WasmFn);
  }

  /** Starts threads-1 workers over the same module and memory; resolves once all have instantiated. */
  static async create(module: WebAssembly.Module, memory: WebAssembly.Memory, mainExports: WebAssembly.Exports, threads: number): Promise<WorkerPool> {
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`WorkerPool: threads must be a positive integer, got ${threads}`);
    const opNames = Object.keys(mainExports).filter((k) => typeof mainExports[k] === 'function');
    const ctlBuffer = new SharedArrayBuffer(threads * SLOT_INTS * 4);
    const argBuffer = new SharedArrayBuffer(threads * SLOT_ARGS * 8);
    const url = new URL('./pool-worker.mjs', import.meta.url);
    const workers: Worker[] = [];
    const ready: Promise<void>[] = [];
    for (let index = 1; index < threads; index++) {
      const w = new Worker(url, {
        workerData: { module, memory, ctlBuffer, argBuffer, index, opNames, slotInts: SLOT_INTS, slotArgs: SLOT_ARGS, spin: SPIN },
      });
      ready.push(new Promise((resolve, reject) => {
        w.once('message', () => resolve());
        w.once('error', reject);
      }));
      workers.push(w);
    }
    await Promise.all(ready);
    for (const w of workers) w.unref(); // an idle pool must not keep the process alive
    return new WorkerPool(threads, workers, new Int32Array(ctlBuffer), new Float64Array(argBuffer), opNames, mainExports);
  }

  /**
   * Runs export `op` once per job, job w on worker w (job 0 on the calling thread), and returns the
   * kernels' return values. jobs.length may be smaller than the pool.
   */
  run(op: string, jobs: readonly (readonly number[])[]): number[] {
    if (this.closed) throw new Error('WorkerPool.run: the pool is closed');
    const opi = this.opIndex.get(op);
    if (opi === undefined) throw new Error(`WorkerPool.run: the wasm module has no export '${op}'`);
    if (jobs.length === 0) return [];
    if (jobs.length > this.size) throw new Error(`WorkerPool.run: ${jobs.length} jobs for a pool of ${this.size}`);
    const n = jobs.length;
    const ctl = this.ctl;
    if (n > 1) {
      Atomics.store(ctl, PENDING, n - 1);
      for (let w = 1; w < n; w++) {
        const job = jobs[w]!;
        if (job.length >= SLOT_ARGS) throw new Error(`WorkerPool.run: ${op} has too many arguments (${job.length})`);
        const base = w * SLOT_INTS;
        this.args.set(job, w * SLOT_ARGS);
        ctl[base + 1] = opi;
        ctl[base + 2] = job.length;
        Atomics.add(ctl, base, 1);
        Atomics.notify(ctl, base, 1);
      }
    }
    const results = new Array<number>(n).fill(0);
    results[0] = this.mainFns[opi]!(...jobs[0]!) ?? 0;
    if (n > 1) {
      for (let i = 0; i < SPIN && Atomics.load(ctl, PENDING) !== 0; i++);
      let left: number;
      while ((left = Atomics.load(ctl, PENDING)) !== 0) Atomics.wait(ctl, PENDING, left);
      for (let w = 1; w < n; w++) {
        if (ctl[w * SLOT_INTS + 3] !== 0) throw new Error(`WorkerPool.run: ${op} failed on worker ${w}`);
        results[w] = this.args[w * SLOT_ARGS + SLOT_ARGS - 1]!;
      }
    }
    return results;
  }

  /** Stops the workers; the pool cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const ctl = this.ctl;
    for (const w of this.workers) w.ref(); // keep the loop alive until each worker has exited
    Atomics.store(ctl, PENDING, this.workers.length);
    this.workers.forEach((_, i) => {
      const base = (i + 1) * SLOT_INTS;
      ctl[base + 1] = -1;
      Atomics.add(ctl, base, 1);
      Atomics.notify(ctl, base, 1);
    });
    await Promise.all(this.workers.map((w) => new Promise<void>((resolve) => {
      w.once('exit', () => resolve());
    })));
  }
}
