// Which backend computes now, and kernel lookup with fallback to the reference backend.
// TESSERA_BACKEND=reference|wasm|blas forces a choice; the fast backends register themselves here.

import type { Backend, Kernels } from './backend.ts';
import { referenceBackend, referenceKernels } from './reference/index.ts';
import type { DType } from '../tensor/dtype.ts';
import { profiled, profilingEnabled } from './profile.ts';

let active: Backend = referenceBackend;

export function getBackend(): Backend {
  return active;
}

export function setBackend(b: Backend): void {
  active = b;
}

/** The kernel `name` of the active backend when it handles `dtype`, else the reference one. */
export function kernel<K extends keyof Kernels>(name: K, dtype: DType = 'float32'): Kernels[K] {
  const k = active.kernels[name];
  const f = k && active.dtypes.includes(dtype) ? (k as Kernels[K]) : referenceKernels[name];
  return profilingEnabled() ? profiled(name, f) : f;
}

/** Runs fn with backend b active, restoring the previous one after. */
export function withBackend<T>(b: Backend, fn: () => T): T {
  const prev = active;
  active = b;
  try {
    return fn();
  } finally {
    active = prev;
  }
}
