// The wasm runtime: compiles build/kernels.wasm once, creates the shared memory + heap, instantiates the module
// on the main thread, and starts the worker pool. Kernel wrappers (gemm.ts, elementwise.ts, …) take a
// WasmRuntime and Float32Array views that must live in its heap; they split work with `splitRange`.
//
// @example
//   const rt = await createWasmRuntime({ threads: 2 });
//   const a = rt.heap.alloc(512 * 512);  // a.array is a Float32Array in wasm memory
//   sgemm(rt, false, false, 512, 512, 512, 1, a.array, 512, b.array, 512, 0, c.array, 512);
//   await rt.close();
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { WasmHeap } from './memory.ts';
import { WorkerPool } from './pool.ts';

export interface WasmRuntimeOptions {
  /** worker count including the calling thread; default TESSERA_THREADS or os.availableParallelism() */
  threads?: number;
  /** memory maximum in MiB; default TESSERA_WASM_MAX_MB or 4096 (the wasm32 limit) */
  maxMemoryMB?: number;
  /** ms before a worker that does not pick up or finish a job becomes an Error; default TESSERA_POOL_TIMEOUT_MS or 30 000 */
  poolTimeoutMs?: number;
  /** see WorkerPoolOptions.takeBack (tests pin jobs to workers with false) */
  poolTakeBack?: boolean;
}

type WasmFn = (...args: number[]) => number;

export interface WasmRuntime {
  readonly heap: WasmHeap;
  readonly pool: WorkerPool;
  readonly threads: number;
  /** main-thread exports, for single-threaded calls */
  readonly fn: Readonly<Record<string, WasmFn>>;
  /** per-worker scratch (byte offset) of `scratchBytes` bytes, for packing and partial results */
  readonly scratch: readonly number[];
  readonly scratchBytes: number;
  close(): Promise<void>;
}

let compiled: WebAssembly.Module | undefined;
/** Which build is loaded: 'relaxed' (FMA micro-kernel) or 'simd128'. */
export let wasmVariant: 'relaxed' | 'simd128' = 'simd128';

function readBuild(name: string): Uint8Array<ArrayBuffer> {
  const url = new URL(`./build/${name}`, import.meta.url);
  try {
    return new Uint8Array(readFileSync(url));
  } catch (e) {
    throw new Error(`wasm backend: cannot read ${url.pathname}; run 'node scripts/build-wasm.mjs' (${(e as Error).message})`);
  }
}

// Relaxed SIMD gives the GEMM and attention micro-kernels FMA. With the k loop unrolled twice it measured
// 31 vs 24.5 GFLOP per CPU-second (sgemm n = 512, one thread, V8 11.3), so it is the default where the engine
// validates it; TESSERA_WASM_RELAXED=0 forces the plain SIMD128 build. V8 11.x (Node 20) only validates it
// behind a flag, which is process-wide and safe to set before the first compile.
function compile(): WebAssembly.Module {
  if (compiled) return compiled;
  if (process.env['TESSERA_WASM_RELAXED'] !== '0') {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
    const relaxed = readBuild('kernels-relaxed.wasm');
    if (WebAssembly.validate(relaxed)) {
      wasmVariant = 'relaxed';
      compiled = new WebAssembly.Module(relaxed);
      return compiled;
    }
  }
  compiled = new WebAssembly.Module(readBuild('kernels.wasm'));
  return compiled;
}

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got '${v}'`);
  return n;
}

export async function createWasmRuntime(opts: WasmRuntimeOptions = {}): Promise<WasmRuntime> {
  const threads = opts.threads ?? envInt('TESSERA_THREADS') ?? availableParallelism();
  const maxMB = Math.min(opts.maxMemoryMB ?? envInt('TESSERA_WASM_MAX_MB') ?? 4096, 4096);
  const maximumPages = maxMB * 16;
  const module = compile();
  const memory = new WebAssembly.Memory({ initial: 256, maximum: maximumPages, shared: true });
  const instance = new WebAssembly.Instance(module, { env: { memory, abort: () => { throw new Error('wasm abort'); } } });
  const fn = instance.exports as unknown as Record<string, WasmFn>;
  // the module's static data sits below __heap_base; keep a margin above it
  const heap = new WasmHeap(memory, Math.max(fn.heapBase!(), 1024) + 1024, maximumPages);
  const timeoutMs = opts.poolTimeoutMs ?? envInt('TESSERA_POOL_TIMEOUT_MS');
  const pool = await WorkerPool.create(module, memory, instance.exports, threads,
    { ...(timeoutMs === undefined ? {} : { timeoutMs }), ...(opts.poolTakeBack === undefined ? {} : { takeBack: opts.poolTakeBack }) });
  const scratchBytes = fn.gemmScratchBytes!() + 64 * 1024;
  const scratch = Array.from({ length: threads }, () => heap.allocBytes(scratchBytes));
  return { heap, pool, threads, fn, scratch, scratchBytes, close: () => pool.close() };
}

/** The byte offset of a view, after checking it lives in rt's heap and holds at least `need` elements. */
export function ptrOf(rt: WasmRuntime, kernel: string, name: string, view: Float32Array | Int32Array, need: number): number {
  if (!rt.heap.owns(view)) {
    throw new Error(`${kernel}: ${name} is not a view of the wasm heap; allocate it with rt.heap.alloc()`);
  }
  if (view.length < need) throw new Error(`${kernel}: ${name} has ${view.length} elements, needs ${need}`);
  return view.byteOffset;
}

/**
 * Splits [0, total) into at most rt.threads contiguous chunks whose sizes are multiples of `grain`,
 * using one chunk when `work` (a rough flop or byte count) is too small to pay for a dispatch.
 */
export function splitRange(rt: WasmRuntime, total: number, grain: number, work: number): Array<[number, number]> {
  const minWork = 1 << 16;
  const parts = Math.max(1, Math.min(rt.threads, Math.floor(work / minWork), Math.ceil(total / grain)));
  const chunks: Array<[number, number]> = [];
  const per = Math.ceil(total / parts / grain) * grain;
  for (let s = 0; s < total; s += per) chunks.push([s, Math.min(total, s + per)]);
  if (chunks.length === 0) chunks.push([0, 0]);
  return chunks;
}
