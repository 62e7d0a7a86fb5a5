// Issue 5: training sets derived from a generated data folder, for the experiments of DEVELOPERS.md (session 13).
//   single-ground <data dir> <out.jsonl>   a ground question on every image of <data dir>/data.jsonl whose scene
//                                          (meta.jsonl) holds exactly one shape: reading a box with nothing to choose
//   question-first <in.jsonl> <out.jsonl>  each record's first exchange only, the question before the image
//                                          ("Where is …?\n<image>" for "<image>\nWhere is …?")
//   first-question <in.jsonl> <out.jsonl>  each record's first exchange only, as it was
//   half <data dir> <out.jsonl>            "Is the {color} {shape} in the left or right half?" about every object of
//                                          every image with two or more shapes of distinct pairs (the recipe's
//                                          whereQuestions, as task vqa-position so the card's exact-match scorer
//                                          reads it, ids half-…)
//   bars <data dir> <out.jsonl>            "What is the value of bar {L}?" about every bar of every chart image
//                                          (chart-value, chart-max and tool scenes), one question a record, ids bars-…
//                                          (the recipe's barQuestions, train/bars.jsonl)
//   boxes <data dir> <out.jsonl>           "Where is the {color} {shape}? Answer with a box." about every object of
//                                          every shape image whose objects are distinct pairs, ids box-… (the
//                                          recipe's boxQuestions, train/boxes.jsonl)
//   counts <data dir> <out.jsonl>          "How many {shape}s are there?" about every kind in the vqa-count and
//                                          cross-count images and every kind present twice or more elsewhere, ids
//                                          count-… (session 21's count probe, DEVELOPERS.md)
// Usage: node --import tsx scripts/experiments/derive-records.ts <mode> <in> <out.jsonl>

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { barQuestions, boxQuestions, whereQuestions } from '../../src/train/recipes/prepare.ts';
import { countQuestions } from '../../src/data/synthetic/questions.ts';

type Rec = { id: string; task: string; image?: string; conversations: { from: string; value: string }[] };
const [mode, input, out] = process.argv.slice(2) as [string, string, string];
const jsonl = <T>(path: string): T[] => readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as T);
const write = (recs: Rec[]) => { writeFileSync(out, recs.map((r) => JSON.stringify(r)).join('\n') + '\n'); console.log(`wrote ${recs.length} records to ${out}`); };

if (mode === 'single-ground') {
  const metas = jsonl<{ id: string; scene: { kind: string; shapes?: unknown[] } }>(join(input, 'meta.jsonl'));
  const single = new Set(metas.filter((m) => m.scene.kind === 'shapes' && m.scene.shapes?.length === 1).map((m) => m.id));
  const records = jsonl<Rec>(join(input, 'data.jsonl')).filter((r) => single.has(r.id));
  write((boxQuestions(records, metas) as Rec[]).map((r) => ({ ...r, id: r.id.replace(/^box-(.*)-0$/, 'single-$1') })));
} else if (mode === 'half') {
  const where = whereQuestions(jsonl(join(input, 'data.jsonl')), jsonl(join(input, 'meta.jsonl'))) as Rec[];
  write(where.map((r) => ({ ...r, id: r.id.replace(/^where-/, 'half-'), task: 'vqa-position' })));
} else if (mode === 'bars') {
  write(barQuestions(jsonl(join(input, 'data.jsonl')), jsonl(join(input, 'meta.jsonl'))) as Rec[]);
} else if (mode === 'boxes') {
  write(boxQuestions(jsonl(join(input, 'data.jsonl')), jsonl(join(input, 'meta.jsonl'))) as Rec[]);
} else if (mode === 'counts') {
  type Shapes = Parameters<typeof countQuestions>[0];
  const scenes = new Map(jsonl<{ id: string; scene: { kind: string; shapes?: Shapes; circles?: Shapes } }>(join(input, 'meta.jsonl')).map((m) => [m.id, m.scene]));
  write(jsonl<Rec>(join(input, 'data.jsonl')).flatMap((r) => {
    const s = scenes.get(r.id);
    const shapes = s?.kind === 'cross' ? s.circles : s?.kind === 'shapes' ? s.shapes : undefined;
    const image = r.image;
    if (!image || !shapes) return [];
    const counted = r.task === 'vqa-count' || r.task === 'cross-count';
    return countQuestions(shapes).flatMap((q, i) => counted || Number(q.answer) >= 2 ? [{ id: `count-${r.id}-${i}`, task: q.task, image,
      conversations: [{ from: 'human', value: `<image>\n${q.question}` }, { from: 'gpt', value: q.answer }] }] : []);
  }));
} else if (mode === 'question-first' || mode === 'first-question') {
  write(jsonl<Rec>(input).map((r) => {
    const [q, a] = r.conversations as [Rec['conversations'][0], Rec['conversations'][0]];
    if (mode === 'first-question') return { ...r, conversations: [q, a] };
    if (!q.value.startsWith('<image>\n')) throw new Error(`${input}: record ${r.id} does not start with "<image>\\n"`);
    return { ...r, conversations: [{ ...q, value: `${q.value.slice('<image>\n'.length)}\n<image>` }, a] };
  }));
} else throw new Error(`unknown mode "${mode}" (single-ground, half, bars, boxes, counts, question-first, first-question)`);
