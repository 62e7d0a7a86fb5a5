// A progress line on stderr: step/total, a bar, loss, tokens/s and the ETA. On a TTY the line redraws in
// place; otherwise (logs, CI, a parent process) a plain line is printed every `every` steps and at the end.

export interface ProgressInfo {
  step: number;
  total: number;
  loss: number;
  tokensPerSecond: number;
  lr: number;
  extra?: string;
}

export class Progress {
  private readonly started = Date.now();
  private readonly startStep: number;
  private readonly tty: boolean;
  constructor(readonly total: number, startStep: number, private readonly out: NodeJS.WriteStream = process.stderr, readonly every = 10, private readonly quiet = false) {
    this.startStep = startStep;
    this.tty = Boolean(out.isTTY);
  }

  update(p: ProgressInfo): void {
    if (this.quiet) return;
    const line = formatProgress(p, (Date.now() - this.started) / 1000, p.step - this.startStep, this.tty ? 24 : 0);
    if (this.tty) this.out.write(`\r${line}\x1b[K`);
    else if (p.step % this.every === 0 || p.step === p.total) this.out.write(`${line}\n`);
  }

  message(text: string): void {
    if (this.quiet) return;
    this.out.write(this.tty ? `\r\x1b[K${text}\n` : `${text}\n`);
  }

  done(): void {
    if (this.tty && !this.quiet) this.out.write('\n');
  }
}

/** `step 40/100 [#####.....] loss 2.3141 lr 1.0e-3 1234 tok/s eta 0:42` (the bar only when width > 0). */
export function formatProgress(p: ProgressInfo, elapsedS: number, stepsDone: number, width: number): string {
  const frac = Math.min(1, p.step / p.total);
  const bar = width > 0 ? ` [${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}]` : '';
  const eta = stepsDone > 0 ? (elapsedS / stepsDone) * (p.total - p.step) : NaN;
  return `step ${p.step}/${p.total}${bar} loss ${p.loss.toFixed(4)} lr ${p.lr.toExponential(1)} ` +
    `${Math.round(p.tokensPerSecond)} tok/s eta ${clock(eta)}${p.extra ? ` ${p.extra}` : ''}`;
}

function clock(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.round(s), h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), sec = t % 60;
  return `${h ? `${h}:${String(m).padStart(2, '0')}` : m}:${String(sec).padStart(2, '0')}`;
}
