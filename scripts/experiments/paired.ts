// Issue 5: two models' predictions on the same records, item by item (`tessera predict` files). Per task and
// overall: each model's accuracy and the items only one of them got right (the discordant pairs a paired test
// turns on; with b and c of them, |b − c| / √(b + c) above 2 is a difference beyond chance).
// Usage: node --import tsx scripts/experiments/paired.ts <records.jsonl> <A.jsonl> <B.jsonl>

import { readFileSync } from 'node:fs';
import { scorePrediction } from '../../src/eval/evaluate.ts';
import { readTaskRecords, type Prediction } from '../../src/eval/predict.ts';
import type { TaskName } from '../../src/data/synthetic/vocab.ts';

const [data, fileA, fileB] = process.argv.slice(2) as [string, string, string];
const records = readTaskRecords(data);
const load = (f: string) => new Map(readFileSync(f, 'utf8').split('\n').filter((l) => l.trim()).map((l) => {
  const p = JSON.parse(l) as Prediction;
  return [p.id, p] as const;
}));
const A = load(fileA), B = load(fileB);
const rows = new Map<string, { n: number; a: number; b: number; onlyA: number; onlyB: number }>();
for (const r of records) {
  const pa = A.get(r.id), pb = B.get(r.id);
  if (!pa || !pb) continue;
  const a = scorePrediction(r as typeof r & { task: TaskName }, pa), b = scorePrediction(r as typeof r & { task: TaskName }, pb);
  for (const key of [r.task, 'overall']) {
    const t = rows.get(key) ?? { n: 0, a: 0, b: 0, onlyA: 0, onlyB: 0 };
    t.n++; t.a += +a; t.b += +b; t.onlyA += +(a && !b); t.onlyB += +(b && !a);
    rows.set(key, t);
  }
}
const pct = (x: number, n: number) => `${((x / n) * 100).toFixed(1)}%`.padStart(7);
console.log(`${'task'.padEnd(14)} ${'n'.padStart(5)} ${'A'.padStart(7)} ${'B'.padStart(7)}  only A / only B   z`);
for (const [task, t] of [...rows].sort(([x], [y]) => (x === 'overall' ? 1 : y === 'overall' ? -1 : x.localeCompare(y)))) {
  const z = t.onlyA + t.onlyB > 0 ? (t.onlyB - t.onlyA) / Math.sqrt(t.onlyA + t.onlyB) : 0;
  console.log(`${task.padEnd(14)} ${String(t.n).padStart(5)} ${pct(t.a, t.n)} ${pct(t.b, t.n)}  ${String(t.onlyA).padStart(6)} / ${String(t.onlyB).padEnd(6)} ${z.toFixed(1).padStart(5)}`);
}
