// A bounded admission queue for model work: `concurrency` jobs run at once (one on a CPU box: the model
// uses every core), up to `maxWaiting` more wait in arrival order, and anything beyond is refused at once
// with QueueFullError (the server's 429) rather than piling up memory and latency. A waiting job whose
// signal aborts (its client went away) leaves the queue without running.

export class QueueFullError extends Error {
  constructor(waiting: number) {
    super(`the server is busy: ${waiting} requests are already waiting; retry later`);
    this.name = 'QueueFullError';
  }
}

interface Waiter { resolve: () => void; reject: (e: Error) => void }

export class WorkQueue {
  private running = 0;
  private readonly waiters: Waiter[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(readonly maxWaiting: number, readonly concurrency = 1) {
    if (!Number.isInteger(maxWaiting) || maxWaiting < 0) throw new Error(`queue: maxWaiting must be an integer ≥ 0, got ${maxWaiting}`);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`queue: concurrency must be an integer ≥ 1, got ${concurrency}`);
  }

  get active(): number { return this.running; }
  get waiting(): number { return this.waiters.length; }

  /** Waits for a slot; resolves to the function that gives it back. Rejects with QueueFullError when full. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(new Error('request aborted'));
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiters.length >= this.maxWaiting) return Promise.reject(new QueueFullError(this.waiters.length));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => { signal?.removeEventListener('abort', onAbort); resolve(this.releaser()); },
        reject,
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error('request aborted while waiting'));
        this.notifyIdle();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Resolves once nothing runs and nothing waits. */
  idle(): Promise<void> {
    if (this.running === 0 && this.waiters.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiters.shift();
      if (next) next.resolve(); // the slot passes straight to the next waiter
      else { this.running--; this.notifyIdle(); }
    };
  }

  private notifyIdle(): void {
    if (this.running !== 0 || this.waiters.length !== 0) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }
}
