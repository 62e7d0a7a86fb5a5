// Which backend computes now, and kernel lookup with fallback to the reference backend.
// TESSERA_BACKEND=reference|wasm|blas forces a choice; the fast backends register themselves here.

import type { Backend, Kernels } from './backend.ts';
import { referenceBackend, referenceKernels } from './reference/index.ts';
import type { DType } from '../tensor/dtype.ts';
import { profiled, profilingEnabled, profilingShapes } from './profile.ts';
import { gemmLayout } from './gemm-layout.ts';
import { numel } from '../tensor/shape.ts';

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
  if (!profilingEnabled()) return f;
  if (name === 'matmul' && profilingShapes()) return profiled(matmulKey, f as Kernels['matmul']) as Kernels[K];
  return profiled(name, f);
}

/** `matmul M×N×K[*batch] NT`: the product's shape and which operands are transposed (T) or not (N). */
function matmulKey(...[a, b, batch, M, N, K]: Parameters<Kernels['matmul']>): string {
  const nb = batch.length, count = numel(batch);
  const t = (l: { trans: boolean } | null) => (l === null ? '?' : l.trans ? 'T' : 'N');
  return `matmul ${M}x${N}x${K}${count === 1 ? '' : `*${count}`} ${t(gemmLayout(a.strides, nb, M, K))}${t(gemmLayout(b.strides, nb, K, N))}`;
}

/**
 * withBackend for an async fn: b stays active across its awaits (anything else running meanwhile sees b too), and
 * the previous backend comes back when it settles.
 */
export async function withBackendAsync<T>(b: Backend, fn: () => Promise<T>): Promise<T> {
  const prev = active;
  active = b;
  try {
    return await fn();
  } finally {
    active = prev;
  }
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
