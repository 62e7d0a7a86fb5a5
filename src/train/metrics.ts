// The run's metrics as JSON lines (`<run>/metrics.jsonl`), one object per logged step: step, loss, lr,
// grad_norm, tokens_per_s, and eval_* numbers when an evaluation ran. A resumed run first drops the lines
// past its checkpoint's step, so the file reads as if the run had never been interrupted.

import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MetricsRecord {
  step: number;
  [key: string]: number | string;
}

export class MetricsLog {
  readonly path: string;
  constructor(runDir: string) {
    this.path = join(runDir, 'metrics.jsonl');
  }

  /** Starts fresh (new run) or keeps only records up to `step` (resume). */
  reset(keepUpToStep: number | null): void {
    if (keepUpToStep === null || !existsSync(this.path)) { writeFileSync(this.path, ''); return; }
    const kept = readMetrics(this.path).filter((r) => r.step <= keepUpToStep);
    writeFileSync(this.path, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
  }

  append(record: MetricsRecord): void {
    appendFileSync(this.path, `${JSON.stringify(record)}\n`);
  }
}

/** Reads a metrics file; a torn last line (a kill mid-append) is ignored, any other bad line is an error. */
export function readMetrics(path: string): MetricsRecord[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: MetricsRecord[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      out.push(JSON.parse(line) as MetricsRecord);
    } catch {
      if (i < lines.length - 1 && lines.slice(i + 1).some((l) => l.trim())) throw new Error(`${path}:${i + 1}: not a JSON metrics record`);
    }
  });
  return out;
}
