// A fixed pool of wasm workers sharing one memory: the main thread is worker 0, node:worker_threads are 1..T-1.
// Dispatch goes through a SharedArrayBuffer control block and Atomics (no postMessage, no copies): per worker a
// slot of SLOT_INTS words (layout below) plus SLOT_ARGS f64 arguments (the last holds the result) and MSG_BYTES
// of UTF-8 for an error message. The caller opens job s in the worker's CLAIM word, bumps its SEQ to s and
// notifies; the worker takes the job (CLAIM s → s + 1), acknowledges (ACK), runs the export and publishes DONE = s.
// Workers spin a few µs on Atomics.load before Atomics.wait, so back-to-back kernel calls skip the futex wake-up.
// A job the worker has not taken by the time the caller has run its own share is taken back (CLAIM s → s + 2)
// and run on the calling thread: a sleeping worker takes tens of µs to wake on this VM, longer than the share of
// most kernels of a small model, and the caller need not wait for that. Sequence numbers step by 4, so the
// three states of a job never equal those of another, also across the int32 wrap.
//
// Nothing may hang silently: the caller waits in slices (SLICE_MS) and after each one checks the worker's ALIVE
// word (cleared by the worker when its loop ends, and by the 'exit' listener for a terminated one). A worker that
// never acknowledges within `timeoutMs`, or never finishes within max(timeoutMs, 100 × the caller's own share),
// becomes an Error naming the kernel and the worker, and the pool refuses further work. A kernel that throws
// (wasm trap) on a worker is reported through ERR + the message area; that worker keeps serving.
// Audit notes: the calling thread's own share may throw too, so it is caught and every worker is still awaited
// (leaving one running was how a later call could wait on a counter nobody would decrement); completion is per
// worker (DONE = SEQ), not a shared counter a late worker could corrupt. The heap grows only on the main
// thread between runs, and workers never cache a buffer length (bounds are the engine's, shared by all
// instances), so growth cannot race a job. FinalizationRegistry callbacks only free heap blocks and run
// between tasks, never inside run(); a nested run() is refused.
//
// JS ops: `loadOps(url, config)` imports a plain-JS module on every thread (ops/init contract in pool-worker.mjs)
// and adds its `ops` to the names `run` accepts, so work that is not wasm (a system BLAS called through an FFI,
// one single-threaded call per worker) shares the same spinning workers instead of waking a second pool.
import { Worker } from 'node:worker_threads';

// slot words; slot 0 belongs to the calling thread and is unused
const SEQ = 0, OP = 1, NARGS = 2, ERR = 3, ACK = 4, DONE = 5, ALIVE = 6, BEAT = 7, CLAIM = 8;
/** SEQ steps by this; CLAIM holds s (open), s + TAKEN (the worker runs it) or s + TAKEN_BACK (the caller does) */
const SEQ_STEP = 4, TAKEN = 1, TAKEN_BACK = 2;
/** OP value asking a worker to import the JS-op module whose JSON request ({url, config}) is in its message area */
const LOAD_OPS = -2;
const SLOT_INTS = 16;
const SLOT_ARGS = 32;
const MSG_BYTES = 512;
const SPIN = 20000; // Atomics.load iterations (a few µs) before sleeping
const SLICE_MS = 1000;
const DEFAULT_TIMEOUT_MS = 30_000;

type WasmFn = (...args: number[]) => number | undefined;

export interface WorkerPoolOptions {
  /** ms a worker may take to pick up a job, and the floor on how long one may run; default 30 000 */
  timeoutMs?: number;
  /** run a job no worker has taken yet on the calling thread once its own share is done; default true (false pins job w to worker w) */
  takeBack?: boolean;
}

export class WorkerPool {
  readonly size: number;
  private readonly workers: Worker[];
  private readonly ctl: Int32Array;
  private readonly args: Float64Array;
  private readonly msg: Uint8Array;
  private readonly opNames: string[];
  private readonly opIndex: Map<string, number>;
  private readonly mainFns: WasmFn[];
  /** module URLs already loaded by loadOps */
  private readonly loaded = new Set<string>();
  private readonly timeoutMs: number;
  private readonly takeBack: boolean;
  private readonly mainExports: WebAssembly.Exports;
  private closed = false;
  private running: string | null = null;
  /** why the pool can no longer be used (a worker died or stalled) */
  private broken: string | null = null;

  private constructor(workers: Worker[], ctl: Int32Array, args: Float64Array, msg: Uint8Array, opNames: string[],
                      mainExports: WebAssembly.Exports, timeoutMs: number, takeBack: boolean) {
    this.size = workers.length + 1;
    this.workers = workers;
    this.ctl = ctl;
    this.args = args;
    this.msg = msg;
    this.opNames = opNames;
    this.opIndex = new Map(opNames.map((n, i) => [n, i]));
    this.mainFns = opNames.map((n) => mainExports[n] as WasmFn);
    this.timeoutMs = timeoutMs;
    this.takeBack = takeBack;
    this.mainExports = mainExports;
    workers.forEach((w, i) => {
      const base = (i + 1) * SLOT_INTS;
      // an uncaught worker error would otherwise be rethrown on the main thread; record it instead
      w.on('error', (e: Error) => { this.broken ??= `worker ${i + 1} raised ${e.name}: ${e.message}`; });
      w.on('exit', (code) => {
        Atomics.store(ctl, base + ALIVE, 0);
        if (!this.closed) this.broken ??= `worker ${i + 1} exited (code ${code})`;
      });
    });
  }

  /** Starts threads-1 workers over the same module and memory; resolves once all have instantiated. */
  static async create(module: WebAssembly.Module, memory: WebAssembly.Memory, mainExports: WebAssembly.Exports, threads: number,
                      opts: WorkerPoolOptions = {}): Promise<WorkerPool> {
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`WorkerPool: threads must be a positive integer, got ${threads}`);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(timeoutMs > 0)) throw new Error(`WorkerPool: timeoutMs must be positive, got ${timeoutMs}`);
    const opNames = Object.keys(mainExports).filter((k) => typeof mainExports[k] === 'function');
    const ctlBuffer = new SharedArrayBuffer(threads * SLOT_INTS * 4);
    const argBuffer = new SharedArrayBuffer(threads * SLOT_ARGS * 8);
    const msgBuffer = new SharedArrayBuffer(threads * MSG_BYTES);
    const url = new URL('./pool-worker.mjs', import.meta.url);
    const workers: Worker[] = [];
    const ready: Promise<void>[] = [];
    for (let index = 1; index < threads; index++) {
      const w = new Worker(url, {
        workerData: { module, memory, ctlBuffer, argBuffer, msgBuffer, index, opNames, spin: SPIN, sliceMs: SLICE_MS,
          slot: { ints: SLOT_INTS, args: SLOT_ARGS, msgBytes: MSG_BYTES, SEQ, OP, NARGS, ERR, ACK, DONE, ALIVE, BEAT, CLAIM, TAKEN } },
      });
      ready.push(new Promise((resolve, reject) => {
        w.once('message', () => resolve());
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`WorkerPool: worker ${index} exited (code ${code}) while starting`)));
      }));
      workers.push(w);
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
    for (const w of workers) w.unref(); // an idle pool must not keep the process alive
    return new WorkerPool(workers, new Int32Array(ctlBuffer), new Float64Array(argBuffer), new Uint8Array(msgBuffer), opNames, mainExports, timeoutMs, opts.takeBack ?? true);
  }

  /**
   * Imports the plain-JS module at `url` on the calling thread and on every worker, calls its
   * `init({ memory, exports, config, worker })` (`exports`: that thread's instance of the wasm module), and makes each function of its `ops` runnable by name with `run`
   * (arguments are numbers, as for wasm exports). Loading the same URL again is a no-op.
   */
  async loadOps(url: string, config: unknown, memory: WebAssembly.Memory): Promise<void> {
    if (this.loaded.has(url)) return;
    if (this.closed || this.broken) throw new Error(`WorkerPool.loadOps: the pool is ${this.closed ? 'closed' : `unusable: ${this.broken}`}`);
    if (this.running !== null) throw new Error(`WorkerPool.loadOps: '${this.running}' is running`);
    // kernels posted while a worker imports would run out of turn and leave this wait on the wrong sequence number
    this.running = 'loadOps';
    try {
      const mod = (await import(url)) as {
        init?: (a: { memory: WebAssembly.Memory; exports: WebAssembly.Exports; config: unknown; worker: number }) => void; ops?: Record<string, WasmFn>;
      };
      if (!mod.ops || typeof mod.ops !== 'object') throw new Error(`WorkerPool.loadOps: ${url} exports no 'ops' object`);
      for (const name of Object.keys(mod.ops)) {
        if (this.opIndex.has(name)) throw new Error(`WorkerPool.loadOps: op '${name}' of ${url} is already defined`);
      }
      mod.init?.({ memory, exports: this.mainExports, config, worker: 0 });
      // the ops take indices from `base` on every thread, whatever an earlier failed load left on a worker
      const request = new TextEncoder().encode(JSON.stringify({ url, config, base: this.mainFns.length }));
      if (request.length >= MSG_BYTES) throw new Error(`WorkerPool.loadOps: the request for ${url} is over ${MSG_BYTES - 1} bytes`);
      await this.importOnWorkers(url, request, this.ctl);
      for (const [name, f] of Object.entries(mod.ops)) {
        this.opIndex.set(name, this.mainFns.length);
        this.mainFns.push(f);
      }
      this.loaded.add(url);
    } finally {
      this.running = null;
    }
  }

  private async importOnWorkers(url: string, request: Uint8Array, ctl: Int32Array): Promise<void> {
    const seqs = this.workers.map((_, i) => {
      const w = i + 1, base = w * SLOT_INTS;
      this.msg.fill(0, w * MSG_BYTES, (w + 1) * MSG_BYTES);
      this.msg.set(request, w * MSG_BYTES);
      ctl[base + OP] = LOAD_OPS;
      ctl[base + ERR] = 0;
      return this.post(w);
    });
    // the workers import asynchronously, so wait without blocking this thread's event loop
    const deadline = performance.now() + this.timeoutMs;
    for (let i = 0; i < this.workers.length; i++) {
      const w = i + 1, base = w * SLOT_INTS;
      while (Atomics.load(ctl, base + DONE) !== seqs[i]) {
        if (Atomics.load(ctl, base + ALIVE) === 0) this.fail(`worker ${w} died while loading ${url}`, 'loadOps');
        if (performance.now() > deadline) this.fail(`worker ${w} did not load ${url} within ${this.timeoutMs} ms`, 'loadOps');
        await new Promise((r) => setTimeout(r, 1));
      }
      if (ctl[base + ERR] !== 0) throw new Error(`WorkerPool.loadOps: worker ${w} could not load ${url}: ${this.message(w)}`);
    }
  }

  /** The node Worker behind pool worker w (1 ≤ w < size), e.g. to terminate a stuck one. */
  worker(w: number): Worker {
    const worker = this.workers[w - 1];
    if (!worker) throw new Error(`WorkerPool.worker: no worker ${w} in a pool of ${this.size}`);
    return worker;
  }

  /**
   * Runs export `op` once per job, job w on worker w (job 0 on the calling thread), and returns the
   * kernels' return values. jobs.length may be smaller than the pool. Throws (after every worker has
   * finished) when a kernel throws anywhere; throws and disables the pool when a worker dies or stalls.
   */
  run(op: string, jobs: readonly (readonly number[])[]): number[] {
    if (this.closed) throw new Error('WorkerPool.run: the pool is closed');
    if (this.broken) throw new Error(`WorkerPool.run: the pool is unusable: ${this.broken}; create a new runtime`);
    // JS cannot re-enter a synchronous call, except from a kernel wrapper that calls back into the pool
    if (this.running !== null) throw new Error(`WorkerPool.run: '${op}' started while '${this.running}' is running (re-entrant call)`);
    const opi = this.opIndex.get(op);
    if (opi === undefined) throw new Error(`WorkerPool.run: the wasm module has no export '${op}'`);
    if (jobs.length === 0) return [];
    if (jobs.length > this.size) throw new Error(`WorkerPool.run: ${jobs.length} jobs for a pool of ${this.size}`);
    // validate everything before posting anything: a throw halfway would leave posted jobs unawaited
    for (const job of jobs) if (job.length >= SLOT_ARGS) throw new Error(`WorkerPool.run: ${op} has too many arguments (${job.length})`);
    const n = jobs.length;
    if (n === 1) {
      // the calling thread alone (small work): no worker to post to or wait for
      this.running = op;
      try {
        return [this.mainFns[opi]!(...jobs[0]!) ?? 0];
      } catch (e) {
        throw callingThreadError(op, e);
      } finally {
        this.running = null;
      }
    }
    const ctl = this.ctl;
    const seqs: number[] = [0];
    for (let w = 1; w < n; w++) {
      const base = w * SLOT_INTS;
      if (Atomics.load(ctl, base + ALIVE) === 0) return this.fail(`worker ${w} is not running (it died earlier)`, op);
      this.args.set(jobs[w]!, w * SLOT_ARGS);
      ctl[base + OP] = opi;
      ctl[base + NARGS] = jobs[w]!.length;
      ctl[base + ERR] = 0;
      seqs.push(this.post(w));
    }
    this.running = op;
    const results = new Array<number>(n).fill(0);
    const here = new Array<boolean>(n).fill(false); // jobs taken back and run on this thread
    let mainError: unknown = null;
    const t0 = performance.now();
    try {
      results[0] = this.mainFns[opi]!(...jobs[0]!) ?? 0;
    } catch (e) {
      mainError = e;
    }
    const mainMs = performance.now() - t0;
    try {
      // a job no worker has taken yet runs here; then every worker that took one is awaited, even when a share
      // run here threw
      for (let w = 1; w < n; w++) {
        if (!this.takeBack || Atomics.compareExchange(ctl, w * SLOT_INTS + CLAIM, seqs[w]!, seqs[w]! + TAKEN_BACK) !== seqs[w]) continue;
        here[w] = true;
        if (mainError !== null) continue;
        try {
          results[w] = this.mainFns[opi]!(...jobs[w]!) ?? 0;
        } catch (e) {
          mainError = e;
        }
      }
      for (let w = 1; w < n; w++) if (!here[w]) this.await(w, seqs[w]!, op, mainMs);
    } finally {
      this.running = null;
    }
    if (mainError !== null) throw callingThreadError(op, mainError);
    for (let w = 1; w < n; w++) {
      if (here[w]) continue;
      if (ctl[w * SLOT_INTS + ERR] !== 0) throw new Error(`WorkerPool.run: ${op} failed on worker ${w}: ${this.message(w)}`);
      results[w] = this.args[w * SLOT_ARGS + SLOT_ARGS - 1]!;
    }
    return results;
  }

  /** Opens the next job in worker w's slot (its OP and arguments already written) and wakes the worker; returns its sequence number. */
  private post(w: number): number {
    const ctl = this.ctl, base = w * SLOT_INTS;
    const seq = (Atomics.load(ctl, base + SEQ) + SEQ_STEP) | 0; // only this thread writes SEQ
    Atomics.store(ctl, base + CLAIM, seq); // open before it is announced, so the worker never sees a closed job
    Atomics.store(ctl, base + SEQ, seq);
    Atomics.notify(ctl, base + SEQ, 1);
    return seq;
  }

  /** Blocks until worker w publishes DONE = seq, in slices, failing on a dead or stalled worker. */
  private await(w: number, seq: number, op: string, mainMs: number): void {
    const ctl = this.ctl, base = w * SLOT_INTS;
    for (let i = 0; i < SPIN && Atomics.load(ctl, base + DONE) !== seq; i++);
    const start = performance.now();
    let done: number;
    while ((done = Atomics.load(ctl, base + DONE)) !== seq) {
      const waited = performance.now() - start;
      if (Atomics.load(ctl, base + ALIVE) === 0) {
        if (Atomics.load(ctl, base + DONE) === seq) break; // it finished, then exited
        this.fail(`worker ${w} died while running it${ctl[base + ERR] ? `: ${this.message(w)}` : ''}`, op);
      }
      const acked = Atomics.load(ctl, base + ACK) === seq;
      if (!acked && waited > this.timeoutMs) {
        this.fail(`worker ${w} did not pick it up within ${this.timeoutMs} ms (dead, or never scheduled)`, op);
      }
      const limit = Math.max(this.timeoutMs, 100 * mainMs);
      if (acked && waited > limit) {
        this.fail(`worker ${w} has not finished it after ${Math.round(waited)} ms (the calling thread's share took ${mainMs.toFixed(1)} ms)`, op);
      }
      Atomics.wait(ctl, base + DONE, done, SLICE_MS);
    }
  }

  private fail(why: string, op: string): never {
    this.broken ??= `'${op}': ${why}`;
    throw new Error(`WorkerPool.run: '${op}': ${why}`);
  }

  private message(w: number): string {
    const bytes = this.msg.slice(w * MSG_BYTES, (w + 1) * MSG_BYTES); // a copy: TextDecoder refuses shared views
    const end = bytes.indexOf(0);
    return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end)) || 'unknown error';
  }

  /** Stops the workers; the pool cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const ctl = this.ctl;
    const exited = this.workers.map((w) => new Promise<void>((resolve) => {
      if (w.threadId < 0) resolve();
      else w.once('exit', () => resolve());
    }));
    for (const w of this.workers) w.ref(); // keep the loop alive until each worker has exited
    this.workers.forEach((_, i) => {
      const base = (i + 1) * SLOT_INTS;
      ctl[base + OP] = -1;
      this.post(i + 1);
    });
    // a worker stuck in a kernel never reads the close op; stop it after the timeout
    const timer = setTimeout(() => { for (const w of this.workers) void w.terminate(); }, this.timeoutMs);
    await Promise.all(exited);
    clearTimeout(timer);
  }
}

function callingThreadError(op: string, e: unknown): Error {
  return new Error(`WorkerPool.run: ${op} failed on the calling thread: ${describe(e)}`, { cause: e });
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
