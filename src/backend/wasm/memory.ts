// The shared wasm heap: one WebAssembly.Memory (shared: true) holding every tensor the wasm kernels touch,
// and a first-fit free-list allocator over it with coalescing (Knuth, TAOCP vol. 1 §2.5).
// Blocks are 64-byte aligned (a cache line) so SIMD loads never split lines at a row start.
// A shared memory never detaches on grow: old SharedArrayBuffer objects keep aliasing the same bytes at their
// old length, so views made before a grow stay valid; new views must come from the fresh `memory.buffer`.

const ALIGN = 64;
const PAGE = 65536;

export interface HeapBlock {
  /** byte offset in the wasm memory (what the kernels take) */
  readonly ptr: number;
  /** a view of exactly the requested floats */
  readonly array: Float32Array;
}

export interface HeapStats {
  bytesInUse: number;
  peakBytes: number;
  heapBytes: number;
  liveBlocks: number;
  freeRanges: number;
}

interface Range { start: number; size: number }

export class WasmHeap {
  readonly memory: WebAssembly.Memory;
  private readonly base: number;
  private readonly maxBytes: number;
  private top: number; // end of the region handed to the allocator (= memory byte length)
  private readonly free_: Range[] = []; // sorted by start, never adjacent (coalesced)
  private readonly live = new Map<number, number>(); // ptr -> block size
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  private inUse = 0;
  private peak = 0;
  private readonly registry = new FinalizationRegistry<number>((ptr) => {
    if (this.live.has(ptr)) this.free(ptr);
  });

  /** base: first byte the allocator may use (above the module's static data). */
  constructor(memory: WebAssembly.Memory, base: number, maximumPages: number) {
    this.memory = memory;
    this.base = alignUp(base, ALIGN);
    this.maxBytes = maximumPages * PAGE;
    this.top = memory.buffer.byteLength;
    this.buffers.add(memory.buffer);
    if (this.top > this.base) this.free_.push({ start: this.base, size: this.top - this.base });
  }

  /** Allocates nFloats f32 (contents unspecified; zero them if needed). */
  alloc(nFloats: number): HeapBlock {
    if (!Number.isInteger(nFloats) || nFloats < 0) throw new Error(`WasmHeap.alloc: nFloats must be a non-negative integer, got ${nFloats}`);
    const ptr = this.allocBytes(nFloats * 4);
    return { ptr, array: new Float32Array(this.memory.buffer, ptr, nFloats) };
  }

  allocBytes(nBytes: number): number {
    const size = alignUp(Math.max(nBytes, 1), ALIGN);
    let i = this.free_.findIndex((r) => r.size >= size);
    if (i < 0) {
      this.grow(size);
      i = this.free_.findIndex((r) => r.size >= size);
      if (i < 0) throw new Error(`WasmHeap.alloc: no block of ${size} bytes after growing`);
    }
    const r = this.free_[i]!;
    const ptr = r.start;
    if (r.size === size) this.free_.splice(i, 1);
    else { r.start += size; r.size -= size; }
    this.live.set(ptr, size);
    this.inUse += size;
    this.peak = Math.max(this.peak, this.inUse);
    return ptr;
  }

  free(ptr: number): void {
    const size = this.live.get(ptr);
    if (size === undefined) throw new Error(`WasmHeap.free: ${ptr} is not a live block (double free or foreign pointer)`);
    this.live.delete(ptr);
    this.inUse -= size;
    this.insertFree(ptr, size);
  }

  /** Frees ptr when owner is garbage-collected (unless it was freed explicitly before). */
  freeWhenCollected(owner: object, ptr: number): void {
    this.registry.register(owner, ptr, owner);
  }

  /** Cancels freeWhenCollected for owner (call before an explicit free of its block); false when owner was not registered. */
  forget(owner: object): boolean {
    return this.registry.unregister(owner);
  }

  /** A fresh f32 view of [ptr, ptr + 4n) on the current buffer. */
  f32(ptr: number, n: number): Float32Array { return new Float32Array(this.memory.buffer, ptr, n); }
  i32(ptr: number, n: number): Int32Array { return new Int32Array(this.memory.buffer, ptr, n); }

  /** True when view lives in this heap's memory (any buffer object it has handed out). */
  owns(view: ArrayBufferView): boolean {
    return this.buffers.has(view.buffer) && view.byteOffset >= this.base && view.byteOffset + view.byteLength <= this.top;
  }

  blockSize(ptr: number): number | undefined { return this.live.get(ptr); }

  stats(): HeapStats {
    return { bytesInUse: this.inUse, peakBytes: this.peak, heapBytes: this.top - this.base, liveBlocks: this.live.size, freeRanges: this.free_.length };
  }

  private insertFree(start: number, size: number): void {
    const list = this.free_;
    let lo = 0, hi = list.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (list[mid]!.start < start) lo = mid + 1; else hi = mid; }
    const prev = lo > 0 ? list[lo - 1] : undefined;
    const next = lo < list.length ? list[lo] : undefined;
    if (prev && prev.start + prev.size === start) {
      prev.size += size;
      if (next && prev.start + prev.size === next.start) { prev.size += next.size; list.splice(lo, 1); }
    } else if (next && start + size === next.start) {
      next.start = start; next.size += size;
    } else {
      list.splice(lo, 0, { start, size });
    }
  }

  private grow(size: number): void {
    const last = this.free_[this.free_.length - 1];
    const tail = last && last.start + last.size === this.top ? last.size : 0;
    // grow geometrically so many small allocations do not each trigger a grow
    const want = Math.max(size - tail, Math.min(this.top, 256 * 1024 * 1024));
    let pages = Math.ceil(want / PAGE);
    const maxPages = this.maxBytes / PAGE - this.top / PAGE;
    if (pages > maxPages) pages = Math.ceil((size - tail) / PAGE);
    if (pages > maxPages) {
      throw new Error(`WasmHeap: out of memory: need ${size} bytes, heap is ${this.top} of max ${this.maxBytes} bytes (set TESSERA_WASM_MAX_MB)`);
    }
    const oldTop = this.top;
    this.memory.grow(pages);
    this.buffers.add(this.memory.buffer);
    this.top = this.memory.buffer.byteLength;
    this.insertFree(oldTop, this.top - oldTop);
  }
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
