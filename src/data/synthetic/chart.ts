// Vertical bar charts for chart-value, chart-max and tool: 3–5 bars labelled A, B, … under the bars, integer
// values 1–9, a baseline, a value scale with a grid line or tick at every integer (top at 9 or 10), plot
// height and style varied, no values printed on the bars.
import type { Rng } from './prng.ts';
import { css, jitteredColor, newCanvas, type Canvas2D } from './draw.ts';
import type { Rgb } from './draw.ts';
import { plainSample } from './sample.ts';
import type { ChartScene, Sample } from './sample.ts';
import { COLORS, HELDOUT_CHART_STYLES } from './vocab.ts';
import type { Split } from './vocab.ts';

export const CHART_STYLES = ['grid', 'ticks', 'grid-ticks', 'dotted', 'dashed'] as const;
const LABEL_FONTS = ['DejaVu Sans', 'Liberation Sans', 'Noto Sans', 'Liberation Serif', 'DejaVu Serif'];

export function barLetters(n: number): string[] {
  return Array.from({ length: n }, (_, i) => String.fromCharCode(65 + i));
}

function chartStyle(rng: Rng, split: Split): string {
  const styles = split === 'train' ? CHART_STYLES.filter((s) => !HELDOUT_CHART_STYLES.includes(s)) : CHART_STYLES;
  // Held-out charts use a held-out style half the time.
  if (split === 'heldout' && rng.bool(0.5)) return rng.pick(HELDOUT_CHART_STYLES);
  return rng.pick(styles);
}

function darkInk(rng: Rng): Rgb {
  const v = rng.int(0, 70);
  return [v, v + rng.int(0, 10), v + rng.int(0, 10)];
}

/** Draws the chart and returns the PNG plus the scene it drew. */
export function renderChart(rng: Rng, split: Split, values: readonly number[]): { png: Buffer; scene: ChartScene } {
  const { canvas, scene } = drawChart(rng, split, values);
  return { png: canvas.finish(), scene };
}

/** Draws the chart (not yet finished: noise and encoding come last) and returns the canvas and its scene. */
export function drawChart(rng: Rng, split: Split, values: readonly number[]): { canvas: Canvas2D; scene: ChartScene } {
  const c = newCanvas(rng);
  const ctx = c.ctx;
  const style = chartStyle(rng, split);
  const top = rng.bool() ? 9 : 10;
  const showNumbers = rng.bool(0.6);
  const x0 = showNumbers ? rng.int(16, 24) : rng.int(6, 14);
  const x1 = 128 - rng.int(4, 10);
  const y1 = 128 - rng.int(14, 20);
  const y0 = y1 - rng.int(60, Math.min(100, y1 - 6));
  const unit = (y1 - y0) / top;
  const ink = darkInk(rng);
  const font = rng.pick(LABEL_FONTS);
  const gridInk: Rgb = (() => { const v = rng.int(150, 205); return [v, v, v]; })();

  // Scale: grid lines and/or ticks at every integer.
  ctx.lineWidth = 1;
  for (let v = 1; v <= top; v++) {
    const y = Math.round(y1 - v * unit) + 0.5;
    if (style !== 'ticks') {
      ctx.strokeStyle = css(gridInk);
      ctx.setLineDash(style === 'dashed' ? [4, 3] : style === 'dotted' ? [1, 2] : []);
      ctx.beginPath();
      ctx.moveTo(x0, y);
      ctx.lineTo(x1, y);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    if (style === 'ticks' || style === 'grid-ticks') {
      ctx.strokeStyle = css(ink);
      ctx.beginPath();
      ctx.moveTo(x0 - 3, y);
      ctx.lineTo(x0, y);
      ctx.stroke();
    }
  }
  if (style === 'ticks' || style === 'grid-ticks' || rng.bool(0.5)) {
    ctx.strokeStyle = css(ink);
    ctx.beginPath();
    ctx.moveTo(x0 + 0.5, y1);
    ctx.lineTo(x0 + 0.5, y0 - 2);
    ctx.stroke();
  }
  if (showNumbers) {
    const every = unit < 8 ? 2 : 1;
    ctx.fillStyle = css(ink);
    ctx.font = `${Math.min(10, Math.max(7, Math.round(unit + 1)))}px "${font}"`;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let v = 0; v <= top; v += every) ctx.fillText(String(v), x0 - 4, y1 - v * unit);
  }

  // Bars.
  const n = values.length;
  const slot = (x1 - x0 - 4) / n;
  const barW = slot * rng.uniform(0.45, 0.8);
  const oneColor = rng.bool(0.5);
  const base = jitteredColor(rng, rng.pick(COLORS));
  const letters = barLetters(n);
  const labelSize = rng.int(9, 12);
  ctx.font = `${rng.pick(['', 'bold '])}${labelSize}px "${font}"`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  values.forEach((v, i) => {
    const cx = x0 + 4 + slot * (i + 0.5);
    ctx.fillStyle = css(oneColor ? base : jitteredColor(rng, rng.pick(COLORS)));
    ctx.fillRect(cx - barW / 2, y1 - v * unit, barW, v * unit);
    ctx.fillStyle = css(ink);
    ctx.fillText(letters[i]!, cx, y1 + 3);
  });
  // Baseline last so it sits on top of the bars' feet.
  ctx.strokeStyle = css(ink);
  ctx.lineWidth = rng.pick([1, 1.5, 2]);
  ctx.beginPath();
  ctx.moveTo(x0, y1 + 0.5);
  ctx.lineTo(x1, y1 + 0.5);
  ctx.stroke();
  const bars = { centers: values.map((_, i) => Math.round((x0 + 4 + slot * (i + 0.5)) * 10) / 10), width: Math.round(barW * 10) / 10, labelSize };
  return { canvas: c, scene: { kind: 'chart', values: values.slice(), labels: letters, top, style, plot: { x0, y0, x1, y1 }, bars } };
}

export function drawValues(rng: Rng, uniqueMax: boolean): number[] {
  const n = rng.int(3, 5);
  for (;;) {
    const vs = Array.from({ length: n }, () => rng.int(1, 9));
    const max = Math.max(...vs);
    if (!uniqueMax || vs.filter((v) => v === max).length === 1) return vs;
  }
}

export function chartValue(rng: Rng, split: Split): Sample {
  const values = drawValues(rng, false);
  const { png, scene } = renderChart(rng, split, values);
  const i = rng.int(0, values.length - 1);
  const v = values[i]!;
  const wrong = v === 1 ? 2 : v === 9 ? 8 : v + (rng.bool() ? 1 : -1);
  return plainSample('chart-value', `What is the value of bar ${scene.labels[i]}?`, String(v), String(wrong), scene, { image: png });
}

export function chartMax(rng: Rng, split: Split): Sample {
  const values = drawValues(rng, true);
  const { png, scene } = renderChart(rng, split, values);
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
  return plainSample('chart-max', 'Which bar is the tallest?', scene.labels[order[0]![1]]!, scene.labels[order[1]![1]]!, scene, { image: png });
}
