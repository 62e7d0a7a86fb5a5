// Issue 5: where a model's held-out answers go wrong. Scores `tessera predict` output with the card's scorer and
// splits each task by the objects in the image (one, or two and more) and by whether a held-out pair
// (HELDOUT_PAIRS: combinations no training image holds) is among them. Needs the generator's meta.jsonl beside
// the records (scenes with their shapes); records without a shape scene (charts, text, audio) are left out.
// Usage: node --import tsx scripts/experiments/heldout-split.ts <records.jsonl> <predictions.jsonl> [...more predictions]

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isHeldoutPair, isTaskName, type Pair } from '../../src/data/synthetic/vocab.ts';
import { scorePrediction } from '../../src/eval/evaluate.ts';
import { readTaskRecords, type Prediction } from '../../src/eval/predict.ts';

const [recordsPath, ...predPaths] = process.argv.slice(2) as [string, ...string[]];
const jsonl = <T>(path: string): T[] => readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as T);
const scenes = new Map(jsonl<{ id: string; scene: { kind: string; shapes?: Pair[] } }>(join(dirname(recordsPath), 'meta.jsonl'))
  .flatMap((m) => (m.scene.kind === 'shapes' && m.scene.shapes ? [[m.id, m.scene.shapes] as const] : [])));
const records = new Map(readTaskRecords(recordsPath).map((r) => [r.id, r]));
const columns = ['1 object, seen pairs', '1 object, held-out pair', '2+ objects, seen pairs', '2+ objects, held-out pair'];
for (const path of predPaths) {
  const cells = new Map<string, [number, number]>();
  for (const p of jsonl<Prediction>(path)) {
    const r = records.get(p.id), shapes = scenes.get(p.id);
    if (!r) throw new Error(`${path}: prediction for "${p.id}", which ${recordsPath} does not hold`);
    if (!shapes || !isTaskName(r.task)) continue;
    const col = (shapes.length === 1 ? 0 : 2) + (shapes.some(isHeldoutPair) ? 1 : 0);
    const key = `${r.task}\t${col}`, cell = cells.get(key) ?? [0, 0];
    cell[0] += scorePrediction({ ...r, task: r.task }, p) ? 1 : 0; cell[1]++;
    cells.set(key, cell);
  }
  console.log(`${path}\n${'task'.padEnd(14)}${columns.map((c) => c.padStart(27)).join('')}`);
  for (const task of [...new Set([...cells.keys()].map((k) => k.split('\t')[0]!))]) {
    const row = columns.map((_, c) => { const x = cells.get(`${task}\t${c}`); return (x ? `${x[0]} / ${x[1]}` : '-').padStart(27); });
    console.log(`${task.padEnd(14)}${row.join('')}`);
  }
}
