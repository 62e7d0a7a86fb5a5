// The timing loop the training benchmarks share: `warmup` untimed steps, then `steps` timed ones (yielding to the
// event loop between steps, as the trainer does), the median step time, the first and last loss, and with
// TESSERA_PROFILE=1 the per-kernel table of the timed steps on stderr.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Backend } from '../src/backend/backend.ts';
import { profileReport, profilingEnabled, resetProfile } from '../src/backend/profile.ts';
import { withBackendAsync } from '../src/backend/registry.ts';

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
  return { medianS: median(times), lossFirst: losses[0]!, lossLast: losses.at(-1)! };
}

export interface Alternated {
  steps: number;
  tokensPerS: number;
  torchTokensPerS: number;
  /** median over the alternated pairs of PyTorch's step time / tessera's; min and max beside it */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
}

/**
 * `step` alternated with a PyTorch step benchmark (`script` with `scriptArgs`, run one step at a time by
 * scripts/torch_step_server.py in `python`): `warmup` untimed pairs, then `steps` timed ones. This VM's pace drifts
 * by up to 2x between minutes, so a ratio of two runs taken one after the other says little; a pair of steps
 * taken a second apart shares the pace.
 */
export async function alternateWithTorch(step: () => number, python: string, script: string, scriptArgs: string[], warmup: number, steps: number,
                                         tokensPerStep: number): Promise<Alternated> {
  const server = join(import.meta.dirname, '../scripts/torch_step_server.py');
  const child = spawn(python, [server, script, ...scriptArgs], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<{ s: number }> => {
    const r = await lines.next();
    if (r.done) throw new Error(`the PyTorch step server for ${script} ended early (its error is above)`);
    return JSON.parse(r.value) as { s: number };
  };
  try {
    await next(); // ready: its model is built
    const ours: number[] = [], theirs: number[] = [];
    for (let i = 0; i < warmup + steps; i++) {
      const t0 = performance.now();
      step();
      const s = (performance.now() - t0) / 1000;
      await new Promise((r) => setImmediate(r));
      child.stdin.write('step\n');
      const t = (await next()).s;
      if (i >= warmup) { ours.push(s); theirs.push(t); }
    }
    const ratios = ours.map((s, i) => theirs[i]! / s);
    return { steps, tokensPerS: tokensPerStep / median(ours), torchTokensPerS: tokensPerStep / median(theirs), ratio: median(ratios),
      ratioMin: Math.min(...ratios), ratioMax: Math.max(...ratios) };
  } finally {
    child.stdin.end();
  }
}

/**
 * alternateWithTorch on backend `b` (active while its step is built and run, across the awaits), printing one
 * JSON line {bench, impl, alternated_with, threads, config, steps, tokens_per_s, pytorch_tokens_per_s, ratio, …}
 * and a summary line.
 */
export async function printAlternated(bench: string, b: Backend, makeStep: () => () => number, config: object, python: string, script: string,
                                      scriptArgs: string[], warmup: number, steps: number, tokensPerStep: number): Promise<void> {
  const r = await withBackendAsync(b, () => alternateWithTorch(makeStep(), python, script, scriptArgs, warmup, steps, tokensPerStep));
  const impl = `tessera-${b.name}`;
  console.log(JSON.stringify({ bench, impl, alternated_with: 'pytorch', threads: b.threads, config, steps: r.steps, tokens_per_s: r.tokensPerS,
    pytorch_tokens_per_s: r.torchTokensPerS, ratio: r.ratio, ratio_min: r.ratioMin, ratio_max: r.ratioMax, date: new Date().toISOString() }));
  console.log(`${impl} vs pytorch, ${r.steps} alternated steps: ${r.tokensPerS.toFixed(0)} vs ${r.torchTokensPerS.toFixed(0)} tokens/s (medians); `
    + `per pair ${r.ratio.toFixed(2)}x (median; ${r.ratioMin.toFixed(2)}–${r.ratioMax.toFixed(2)})`);
}

function median(xs: number[]): number {
  return [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
}
