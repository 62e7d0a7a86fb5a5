// Where the time goes: with TESSERA_PROFILE=1 every kernel call is timed by name (forward and backward
// kernels are separate names); `profileReport()` prints a table. Work done outside kernels (movement ops,
// embedding, the autograd walk) shows up as the difference from the wall time; the part of it spent getting
// storage from the backend (zero-filled or not) is timed too and listed under that line.

// TESSERA_PROFILE=shapes also splits matmul by its shape (M×N×K, batch, transposes), to compare one product's
// speed inside a step with the same product timed alone (bench:gemm).
const enabled = process.env.TESSERA_PROFILE === '1' || process.env.TESSERA_PROFILE === 'shapes';
const byShape = process.env.TESSERA_PROFILE === 'shapes';
const totals = new Map<string, { ms: number; calls: number }>();
/** Timed work that is not a kernel (shown as part of the outside-kernels time, not added to the kernel time). */
const outside = new Set<string>();

export function profilingEnabled(): boolean {
  return enabled;
}

export function profilingShapes(): boolean {
  return byShape;
}

/** f timed under `name`, or under name(...args) per call. */
export function profiled<F extends (...args: never[]) => unknown>(name: string | ((...args: Parameters<F>) => string), f: F): F {
  if (!enabled) return f;
  return ((...args: Parameters<F>) => {
    const t0 = performance.now();
    try {
      return f(...args);
    } finally {
      const key = typeof name === 'string' ? name : name(...args);
      const e = totals.get(key) ?? { ms: 0, calls: 0 };
      e.ms += performance.now() - t0;
      e.calls++;
      totals.set(key, e);
    }
  }) as F;
}

/** Like profiled, for work outside kernels (allocation): reported below the outside-kernels line. */
export function profiledOutside<F extends (...args: never[]) => unknown>(name: string, f: F): F {
  if (!enabled) return f;
  outside.add(name);
  return profiled(name, f);
}

export function resetProfile(): void {
  totals.clear();
}

/** A table of kernel times, largest first, against `wallMs` of the measured region. */
export function profileReport(wallMs: number): string {
  const rows = [...totals.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const kernels = rows.filter(([name]) => !outside.has(name)), rest = rows.filter(([name]) => outside.has(name));
  const inKernels = kernels.reduce((s, [, v]) => s + v.ms, 0);
  const line = (name: string, ms: number, calls?: number) =>
    `${name.padEnd(30)} ${ms.toFixed(1).padStart(8)} ${((100 * ms) / wallMs).toFixed(1).padStart(6)}${calls === undefined ? '' : String(calls).padStart(8)}${gflops(name, ms, calls)}`;
  const lines = [`${'kernel'.padEnd(30)}       ms      %   calls${byShape ? '  GFLOP/s' : ''}`];
  for (const [name, v] of kernels) lines.push(line(name, v.ms, v.calls));
  lines.push(line('(outside kernels)', wallMs - inKernels));
  for (const [name, v] of rest) lines.push(line(`  ${name}`, v.ms, v.calls));
  return lines.join('\n');
}

/** GFLOP/s of a `matmul M×N×K[*batch] …` line (TESSERA_PROFILE=shapes), else ''. */
function gflops(name: string, ms: number, calls?: number): string {
  const m = /^matmul (\d+)x(\d+)x(\d+)(?:\*(\d+))? /.exec(name);
  if (!m || !calls || ms <= 0) return '';
  const flops = 2 * Number(m[1]) * Number(m[2]) * Number(m[3]) * Number(m[4] ?? 1) * calls;
  return (flops / ms / 1e6).toFixed(1).padStart(9);
}
