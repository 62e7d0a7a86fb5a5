// The training loop shared by every stage: seeded data order over a weighted mix of sources, micro-batches
// with gradient accumulation (the loss of each micro-batch is summed and divided by the units of the whole
// step, so accumulation equals one large batch), global-norm clipping, AdamW with one group per trainable
// part and one cosine-with-warm-up factor over all groups (HF get_cosine_with_min_lr_schedule_with_warmup),
// evaluation every N steps, metrics.jsonl + loss.png, and atomic checkpoints every N steps and at the end.
// Everything a step depends on (weights, moments, data order, step) is in the checkpoint, so a run resumed
// after SIGKILL ends with the same weights, bit for bit, as one that never stopped.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AdamW } from '../optim/adamw.ts';
import { clipCoefficient, gradNorm as globalGradNorm } from '../optim/clip.ts';
import { lrAt } from '../optim/schedule.ts';
import { noGrad } from '../tensor/index.ts';
import { latestCheckpoint, listCheckpoints, loadCheckpoint, saveCheckpoint, type TrainerState } from './checkpoint.ts';
import { MetricsLog, readMetrics, type MetricsRecord } from './metrics.ts';
import type { Objective } from './objective.ts';
import { DataOrder } from './order.ts';
import { selectTrainable } from './params.ts';
import { plotLossCurve } from './plot.ts';
import { Progress } from './progress.ts';
import type { StageConfig } from './stages.ts';

/** The samples of a source by index: an array, or samples made on demand (e.g. images drawn afresh). */
export interface SampleSet<S> {
  readonly length: number;
  at(index: number): S | undefined;
}

export interface Source<S> {
  name: string;
  samples: SampleSet<S>;
  weight: number;
}

export type LoopStage = Pick<StageConfig, 'name' | 'steps' | 'batchSize' | 'gradAccum' | 'warmup' | 'minLrRatio' | 'weightDecay' | 'clip'
  | 'evalEvery' | 'checkpointEvery' | 'keepLast' | 'seed' | 'trainable' | 'lr' | 'lora'>;

export interface LoopOptions<S, B> {
  objective: Objective<S, B>;
  stage: LoopStage;
  sources: readonly Source<S>[];
  evalSamples?: readonly S[];
  runDir: string;
  /** Continue from the newest checkpoint in runDir (a fresh start when there is none). */
  resume?: boolean;
  /** No progress output (tests). */
  quiet?: boolean;
  /** Steps between plain progress lines when stderr is not a TTY (default 10). */
  progressEvery?: number;
}

export interface LoopResult {
  /** Optimiser steps completed (== stage.steps). */
  step: number;
  /** The step the run resumed from, or null for a fresh start. */
  resumedFrom: number | null;
  lastLoss: number;
  lastCheckpoint: string | null;
}

export async function trainLoop<S, B>(o: LoopOptions<S, B>): Promise<LoopResult> {
  const { objective, stage } = o;
  const model = objective.model;
  mkdirSync(o.runDir, { recursive: true });
  const split = selectTrainable(model, stage);
  const opt = new AdamW(split.groups);
  const order0 = { sizes: o.sources.map((s) => s.samples.length), weights: o.sources.map((s) => s.weight) };
  o.sources.forEach((s) => { if (s.samples.length === 0) throw new Error(`data source ${s.name} has no usable samples`); });

  let start = 0, resumedFrom: number | null = null, tokensSeen = 0;
  let order = new DataOrder(order0.sizes, order0.weights, stage.seed);
  const metrics = new MetricsLog(o.runDir);
  const ckpt = o.resume ? latestCheckpoint(o.runDir) : null;
  if (!o.resume && listCheckpoints(o.runDir).length > 0) {
    throw new Error(`${o.runDir} already holds checkpoints: pass --resume to continue it, or choose a new run directory`);
  }
  if (ckpt) {
    const st = loadCheckpoint(ckpt, model, opt);
    if (st.stage !== stage.name) throw new Error(`${ckpt}: checkpoint is of stage "${st.stage}", this run is "${stage.name}"`);
    start = resumedFrom = st.step;
    tokensSeen = st.tokensSeen;
    order = new DataOrder(order0.sizes, order0.weights, stage.seed, st.order);
    metrics.reset(st.step);
  } else metrics.reset(null);

  const progress = new Progress(stage.steps, start, process.stderr, o.progressEvery ?? 10, o.quiet ?? false);
  const counts = Object.entries(split.counts).map(([k, n]) => `${k} ${n}`).join(', ');
  progress.message(`${stage.name}: training ${counts} parameters; frozen ${split.frozen.reduce((n, [, p]) => n + p.size, 0)}` +
    `${resumedFrom !== null ? `; resumed at step ${resumedFrom}` : ''}`);

  const schedule = { base: 1, warmup: stage.warmup, total: stage.steps, minLr: stage.minLrRatio };
  let lastLoss = NaN, lastCheckpoint = ckpt;
  model.train();
  for (let step = start; step < stage.steps; step++) {
    const t0 = performance.now();
    const draws = order.take(stage.batchSize * stage.gradAccum);
    const micro: B[] = [];
    for (let m = 0; m < stage.gradAccum; m++) {
      const part = draws.slice(m * stage.batchSize, (m + 1) * stage.batchSize);
      micro.push(objective.collate(part.map((d) => o.sources[d.source]!.samples.at(d.index)!)));
    }
    const { lossSum, units, tokens, sums } = accumulateGradients(objective, micro);
    // clipping folded into the update: AdamW reads each gradient times the coefficient (no scaled copies)
    const gradNorm = globalGradNorm(split.trained), clipScale = clipCoefficient(gradNorm, stage.clip);
    // step + 1: HF's schedule gives step 0 an lr of 0 under warm-up, which would waste the first update
    const factor = lrAt(Math.min(step + 1, stage.steps), schedule);
    opt.scaleLr(factor);
    const skipped = units === 0 || !Number.isFinite(gradNorm);
    if (!skipped) opt.step(clipScale);
    opt.zeroGrad();
    tokensSeen += tokens;
    const loss = units > 0 ? lossSum / units : NaN;
    lastLoss = loss;
    const seconds = (performance.now() - t0) / 1000;
    const record: MetricsRecord = {
      step: step + 1, loss, lr: opt.groups[0]!.lr, grad_norm: gradNorm, tokens_per_s: tokens / Math.max(seconds, 1e-9), tokens: tokensSeen,
    };
    for (const [k, v] of Object.entries(sums)) record[k] = v / Math.max(units, 1);
    if (skipped) {
      record.skipped = 1;
      progress.message(`step ${step + 1}: ${units === 0 ? 'no labelled tokens in the batch' : `non-finite grad norm ${gradNorm}`}; update skipped`);
    }
    const done = step + 1;
    if (o.evalSamples?.length && stage.evalEvery > 0 && (done % stage.evalEvery === 0 || done === stage.steps)) {
      Object.assign(record, await evaluateLoss(objective, o.evalSamples, stage.batchSize));
      model.train();
    }
    metrics.append(record);
    progress.update({ step: done, total: stage.steps, loss, tokensPerSecond: record.tokens_per_s as number, lr: record.lr as number,
      ...(record.eval_loss !== undefined ? { extra: `eval ${(record.eval_loss as number).toFixed(4)}` } : {}) });
    if ((stage.checkpointEvery > 0 && done % stage.checkpointEvery === 0) || done === stage.steps) {
      const state: TrainerState = { step: done, stage: stage.name, order: order.snapshot(), tokensSeen };
      lastCheckpoint = saveCheckpoint(o.runDir, model, opt, state, stage.keepLast);
    }
    // a macrotask per step: lets finalizers free released tensors and lets signals (SIGINT/SIGTERM) be handled
    await nextMacrotask();
  }
  progress.done();
  plotLossCurve(readMetrics(metrics.path), join(o.runDir, 'loss.png'), { title: `${stage.name}: loss` });
  return { step: stage.steps, resumedFrom, lastLoss, lastCheckpoint };
}

/**
 * Runs forward and backward over the micro-batches of one optimiser step, each micro-batch's summed loss
 * divided by the units of the whole step, so the gradients equal those of one batch holding them all.
 */
export function accumulateGradients<S, B>(objective: Objective<S, B>, micro: readonly B[]): { lossSum: number; units: number; tokens: number; sums: Record<string, number> } {
  const units = micro.reduce((n, b) => n + objective.units(b), 0);
  let lossSum = 0, tokens = 0;
  const sums: Record<string, number> = {};
  for (const b of micro) {
    tokens += objective.tokens(b);
    if (units === 0) continue;
    const r = objective.lossSum(b);
    r.loss.div(units).backward();
    lossSum += r.loss.item();
    for (const [k, v] of Object.entries(r.sums ?? {})) sums[k] = (sums[k] ?? 0) + v;
  }
  return { lossSum, units, tokens, sums };
}

const nextMacrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Mean loss per unit over `samples` in their given order, without gradients; keys eval_loss + eval_<sum>. A
 * macrotask between batches, as between training steps: the wasm heap gets a batch's blocks back only when their
 * finalizers run, and 240 held-out items evaluated in one synchronous pass once held 2-4 GB of it.
 */
export async function evaluateLoss<S, B>(objective: Objective<S, B>, samples: readonly S[], batchSize: number): Promise<Record<string, number>> {
  objective.model.eval();
  let loss = 0, units = 0;
  const sums: Record<string, number> = {};
  for (let i = 0; i < samples.length; i += batchSize) {
    noGrad(() => {
      const b = objective.collate(samples.slice(i, i + batchSize));
      const u = objective.units(b);
      if (u === 0) return;
      const r = objective.lossSum(b);
      loss += r.loss.item();
      units += u;
      for (const [k, v] of Object.entries(r.sums ?? {})) sums[k] = (sums[k] ?? 0) + v;
    });
    await nextMacrotask();
  }
  const out: Record<string, number> = { eval_loss: units ? loss / units : NaN };
  for (const [k, v] of Object.entries(sums)) out[`eval_${k}`] = v / Math.max(units, 1);
  return out;
}
