// The loss curve of a run as a PNG beside metrics.jsonl (`<run>/loss.png`): training loss per step (light),
// its exponential moving average (dark) and eval loss (dots), on linear axes with ticks, drawn with
// @napi-rs/canvas and written atomically so a viewer never sees half a file.

import { createCanvas } from '@napi-rs/canvas';
import { writeFileAtomic } from '../io/atomic.ts';
import type { MetricsRecord } from './metrics.ts';

export interface PlotOptions {
  width?: number;
  height?: number;
  title?: string;
}

export function plotLossCurve(records: readonly MetricsRecord[], path: string, o: PlotOptions = {}): void {
  const W = o.width ?? 640, H = o.height ?? 400, pad = { l: 56, r: 16, t: 28, b: 36 };
  const train = points(records, 'loss'), evals = points(records, 'eval_loss');
  const canvas = createCanvas(W, H);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, W, H);
  ctx.fillStyle = '#222222';
  ctx.font = '13px sans-serif';
  ctx.fillText(o.title ?? 'loss', pad.l, 18);
  const all = [...train, ...evals];
  if (all.length > 0) {
    const xMin = Math.min(...all.map((p) => p[0])), xMax = Math.max(xMin + 1, ...all.map((p) => p[0]));
    let yMin = Math.min(...all.map((p) => p[1])), yMax = Math.max(...all.map((p) => p[1]));
    if (yMax - yMin < 1e-6) { yMin -= 0.5; yMax += 0.5; }
    const sx = (x: number) => pad.l + ((x - xMin) / (xMax - xMin)) * (W - pad.l - pad.r);
    const sy = (y: number) => H - pad.b - ((y - yMin) / (yMax - yMin)) * (H - pad.t - pad.b);
    drawAxes(ctx, { xMin, xMax, yMin, yMax }, sx, sy, W, H, pad);
    line(ctx, train.map(([x, y]) => [sx(x), sy(y)]), '#9ecae1', 1);
    line(ctx, ema(train, 0.9).map(([x, y]) => [sx(x), sy(y)]), '#08519c', 2);
    ctx.fillStyle = '#d94801';
    for (const [x, y] of evals) { ctx.beginPath(); ctx.arc(sx(x), sy(y), 3.5, 0, 2 * Math.PI); ctx.fill(); }
    ctx.fillStyle = '#222222';
    ctx.fillText(`train (EMA) ${train.at(-1)?.[1].toFixed(4) ?? ''}${evals.length ? `   eval ${evals.at(-1)![1].toFixed(4)}` : ''}`, W - 300, 18);
  }
  writeFileAtomic(path, [canvas.toBuffer('image/png')]);
}

type Ctx = ReturnType<ReturnType<typeof createCanvas>['getContext']>;

function points(records: readonly MetricsRecord[], key: string): [number, number][] {
  return records.filter((r) => typeof r[key] === 'number' && Number.isFinite(r[key])).map((r) => [r.step, r[key] as number]);
}

function ema(p: readonly [number, number][], beta: number): [number, number][] {
  let m = p[0]?.[1] ?? 0;
  return p.map(([x, y]) => { m = beta * m + (1 - beta) * y; return [x, m]; });
}

function line(ctx: Ctx, p: readonly [number, number][], color: string, width: number): void {
  if (p.length === 0) return;
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.beginPath();
  p.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
  ctx.stroke();
}

function drawAxes(ctx: Ctx, r: { xMin: number; xMax: number; yMin: number; yMax: number }, sx: (x: number) => number, sy: (y: number) => number,
  W: number, H: number, pad: { l: number; r: number; t: number; b: number }): void {
  ctx.strokeStyle = '#888888';
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(pad.l, pad.t);
  ctx.lineTo(pad.l, H - pad.b);
  ctx.lineTo(W - pad.r, H - pad.b);
  ctx.stroke();
  ctx.fillStyle = '#444444';
  ctx.font = '11px sans-serif';
  for (let i = 0; i <= 4; i++) {
    const x = r.xMin + ((r.xMax - r.xMin) * i) / 4, y = r.yMin + ((r.yMax - r.yMin) * i) / 4;
    ctx.fillText(String(Math.round(x)), sx(x) - 8, H - pad.b + 16);
    ctx.fillText(y.toFixed(2), 6, sy(y) + 4);
  }
  ctx.fillText('step', W - pad.r - 28, H - 6);
}
