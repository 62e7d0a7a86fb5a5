// Instrumentation for issue 5: does a trained tessera model's media reach its LLM? For two held-out records of a
// task it compares the spliced inputs_embeds at the placeholder rows (image A vs image B vs blank), their scale
// against the text embeddings, the answer logits under each, and how far each stage moved each part's weights.
// Usage: node --import tsx scripts/experiments/media-probe.ts <run dir> [task] [model dir] [data.jsonl]

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/select.ts';
import { loadTessera } from '../../src/models/tessera/checkpoint.ts';
import { openSafetensors } from '../../src/io/safetensors.ts';
import { mediaOf, readTaskRecords } from '../../src/eval/predict.ts';
import { noGrad, type Tensor } from '../../src/tensor/index.ts';

const run = process.argv[2] ?? '/tmp/rq';
const task = process.argv[3] ?? 'vqa-color';
await initBackend();
const { model, processor } = loadTessera(process.argv[4] ?? join(run, 'model'));
const recs = readTaskRecords(process.argv[5] ?? join(run, 'data/heldout/data.jsonl')).filter((r) => r.task === task).slice(0, 3);

const rms = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
const diff = (a: Float32Array, b: Float32Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]!) ** 2, 0) / a.length);

async function embedsOf(r: (typeof recs)[number], blank: boolean) {
  const s = await processor.encodePrompt(r.prompt, await mediaOf(r, blank), r.id);
  const b = processor.collate([s], { padSide: 'left' });
  return noGrad(() => {
    const e = model.embed(b.inputIds, b.pixelValues, b.audioFeatures ? { features: b.audioFeatures, lengths: b.audioLengths } : null);
    const out = model.llm.forward({ inputsEmbeds: e, attentionMask: b.attentionMask });
    const [, T, V] = out.logits.shape as [number, number, number];
    const last = out.logits.toFloat32Array().slice((T - 1) * V, T * V);
    const ids = s.inputIds, mediaRows: number[] = [];
    ids.forEach((id, t) => { if (id === processor.imageTokenId || id === processor.audioTokenId) mediaRows.push(t); });
    const C = e.shape[2]!, all = e.toFloat32Array();
    const media = new Float32Array(mediaRows.length * C), text = new Float32Array((T - mediaRows.length) * C);
    let mi = 0, ti = 0;
    for (let t = 0; t < T; t++) {
      const row = all.subarray(t * C, t * C + C);
      if (mediaRows.includes(t)) { media.set(row, mi); mi += C; } else { text.set(row, ti); ti += C; }
    }
    const px = b.pixelValues?.toFloat32Array();
    return { media, text, last, nMedia: mediaRows.length, px };
  });
}

const top = (l: Float32Array, k = 3) => [...l].map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, k)
  .map(([v, i]) => `${JSON.stringify(processor.tokenizer.decode([i]))}:${v.toFixed(2)}`).join(' ');
const a = await embedsOf(recs[0]!, false), b = await embedsOf(recs[1]!, false), z = await embedsOf(recs[0]!, true);
console.log(`task ${task}; records ${recs[0]!.id} (${recs[0]!.reference}) / ${recs[1]!.id} (${recs[1]!.reference}); ${a.nMedia} media rows`);
if (a.px) console.log(`pixels: min ${Math.min(...a.px).toFixed(2)} max ${Math.max(...a.px).toFixed(2)} rms ${rms(a.px).toFixed(3)}`);
console.log(`rms media rows A ${rms(a.media).toFixed(4)}  B ${rms(b.media).toFixed(4)}  blank ${rms(z.media).toFixed(4)}  text rows ${rms(a.text).toFixed(4)}`);
console.log(`rms diff media rows A-B ${diff(a.media, b.media).toFixed(4)}  A-blank ${diff(a.media, z.media).toFixed(4)}`);
// within-image spread: how different are the 64 rows of one image from each other
const C = model.config.text.hiddenSize, mean = new Float32Array(C);
for (let i = 0; i < a.media.length; i++) mean[i % C]! += a.media[i]! / a.nMedia;
let spread = 0; for (let i = 0; i < a.media.length; i++) spread += (a.media[i]! - mean[i % C]!) ** 2;
console.log(`within-image row spread (rms) ${Math.sqrt(spread / a.media.length).toFixed(4)}`);
console.log(`last-position logits max |A-B| ${Math.max(...a.last.map((v, i) => Math.abs(v - b.last[i]!))).toFixed(4)}  |A-blank| ${Math.max(...a.last.map((v, i) => Math.abs(v - z.last[i]!))).toFixed(4)}`);
console.log(`top A: ${top(a.last)}\ntop B: ${top(b.last)}\ntop blank: ${top(z.last)}`);

// weights per part across the stage chain
if (process.argv[4]) process.exit(0);
const stages = ['init', 'stages/pretrain-text/model', 'stages/pretrain-vision/model', 'stages/pretrain-audio/model', 'stages/align/model', 'stages/instruct/model', 'stages/dpo/model', 'model'];
const read = (dir: string) => { const f = openSafetensors(join(run, dir, 'model.safetensors')); const m = new Map(f.keys().map((k) => [k, f.readFloat32(k)])); f.close(); return m; };
const parts = ['llm', 'vision', 'visionProjector', 'audio', 'audioProjector'];
let prev = read(stages[0]!);
for (const s of stages.slice(1)) {
  const cur = read(s);
  const moved = parts.map((p) => {
    let d = 0, n = 0;
    for (const [k, v] of cur) if (k.startsWith(`${p}.`)) { const w = prev.get(k)!; for (let i = 0; i < v.length; i++) { d += (v[i]! - w[i]!) ** 2; n++; } }
    return `${p} ${Math.sqrt(d / n).toExponential(2)}`;
  });
  console.log(`${s.padEnd(30)} rms change vs previous: ${moved.join(', ')}`);
  prev = cur;
}
void readFileSync;
