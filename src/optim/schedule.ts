// Learning-rate schedules as pure functions of the step, in the shape of Hugging Face's
// get_cosine_schedule_with_warmup / get_linear_schedule_with_warmup / get_constant_schedule_with_warmup
// (transformers/optimization.py), with an optional floor `minLr` as in get_cosine_with_min_lr_schedule_with_warmup.
// `step` is the 0-based index of the optimiser step about to be taken, so with warm-up step 0 gets lr 0 as in HF.

export type ScheduleKind = 'cosine' | 'linear' | 'constant';

export interface ScheduleOptions {
  /** Peak learning rate, reached at the end of warm-up. */
  base: number;
  /** Steps of linear warm-up from 0 to base (default 0). */
  warmup?: number;
  /** Total steps; the decay reaches minLr here and stays there after. */
  total: number;
  /** Floor of the decay (default 0). Warm-up still starts from 0. */
  minLr?: number;
  /** Default 'cosine'. */
  kind?: ScheduleKind;
}

/** The learning rate for optimiser step `step`. */
export function lrAt(step: number, o: ScheduleOptions): number {
  const warmup = o.warmup ?? 0, minLr = o.minLr ?? 0, kind = o.kind ?? 'cosine';
  if (!(o.base >= 0) || !(minLr >= 0) || minLr > o.base) throw new Error(`lrAt: need 0 <= minLr (${minLr}) <= base (${o.base})`);
  if (!Number.isInteger(warmup) || warmup < 0 || !Number.isInteger(o.total) || o.total < warmup) {
    throw new Error(`lrAt: need integers 0 <= warmup (${warmup}) <= total (${o.total})`);
  }
  if (!Number.isInteger(step) || step < 0) throw new Error(`lrAt: step must be a non-negative integer, got ${step}`);
  if (step < warmup) return (o.base * step) / warmup;
  if (kind === 'constant') return o.base;
  const progress = Math.min(1, (step - warmup) / Math.max(1, o.total - warmup));
  const factor = kind === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * progress)) : 1 - progress;
  return minLr + (o.base - minLr) * factor;
}

/** A schedule bound to its options: `const lr = schedule(opts); opt.scaleLr(lr(step) / base)`. */
export function schedule(o: ScheduleOptions): (step: number) => number {
  lrAt(0, o); // validate once, up front
  return (step) => lrAt(step, o);
}
