// The timing loop the training benchmarks share: `warmup` untimed steps, then `steps` timed ones (yielding to the
// event loop between steps, as the trainer does), the median step time, the first and last loss, and with
// TESSERA_PROFILE=1 the per-kernel table of the timed steps on stderr.

import { profileReport, profilingEnabled, resetProfile } from '../src/backend/profile.ts';

export interface StepTiming {
  medianS: number;
  lossFirst: number;
  lossLast: number;
}

export async function timeSteps(step: () => number, warmup: number, steps: number, label: string): Promise<StepTiming> {
  const losses: number[] = [], times: number[] = [];
  for (let i = 0; i < warmup; i++) { losses.push(step()); await new Promise((r) => setImmediate(r)); }
  resetProfile();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) {
    const s = performance.now();
    losses.push(step());
    times.push((performance.now() - s) / 1000);
    await new Promise((r) => setImmediate(r));
  }
  if (profilingEnabled()) console.error(`\nprofile (${label}, ${steps} steps)\n${profileReport(performance.now() - t0)}`);
  times.sort((p, q) => p - q);
  return { medianS: times[Math.floor(times.length / 2)]!, lossFirst: losses[0]!, lossLast: losses.at(-1)! };
}
