// Where the time goes: with TESSERA_PROFILE=1 every kernel call is timed by name (forward and backward
// kernels are separate names); `profileReport()` prints a table. Work done outside kernels (movement ops,
// embedding, the autograd walk) shows up as the difference from the wall time.

const enabled = process.env.TESSERA_PROFILE === '1';
const totals = new Map<string, { ms: number; calls: number }>();

export function profilingEnabled(): boolean {
  return enabled;
}

export function profiled<F extends (...args: never[]) => unknown>(name: string, f: F): F {
  if (!enabled) return f;
  return ((...args: Parameters<F>) => {
    const t0 = performance.now();
    try {
      return f(...args);
    } finally {
      const e = totals.get(name) ?? { ms: 0, calls: 0 };
      e.ms += performance.now() - t0;
      e.calls++;
      totals.set(name, e);
    }
  }) as F;
}

export function resetProfile(): void {
  totals.clear();
}

/** A table of kernel times, largest first, against `wallMs` of the measured region. */
export function profileReport(wallMs: number): string {
  const rows = [...totals.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const inKernels = rows.reduce((s, [, v]) => s + v.ms, 0);
  const lines = ['kernel                      ms      %   calls'];
  for (const [name, v] of rows) {
    lines.push(`${name.padEnd(24)} ${v.ms.toFixed(1).padStart(8)} ${((100 * v.ms) / wallMs).toFixed(1).padStart(6)} ${String(v.calls).padStart(7)}`);
  }
  lines.push(`${'(outside kernels)'.padEnd(24)} ${(wallMs - inKernels).toFixed(1).padStart(8)} ${((100 * (wallMs - inKernels)) / wallMs).toFixed(1).padStart(6)}`);
  return lines.join('\n');
}
