// The recipe's preparation: synthetic data (train + held-out + preference pairs + text corpus) written in the
// layout recipe.ts describes, the byte-level BPE tokenizer trained on the corpus and every conversation's text
// (with the ChatML frame and tool-call JSON, so the frame tokens merge too), and the freshly initialised tessera
// model saved as <run>/init. Each step skips itself when its output is already complete, so a resumed recipe
// does not redo them.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { synthesize, type SynthRecord } from '../../data/synthetic/synthesize.ts';
import { textCorpusLines } from '../../data/synthetic/textCorpus.ts';
import { ALL_TASKS, type TaskName } from '../../data/synthetic/vocab.ts';
import { defaultSystemPrompt, chatmlTemplate } from '../../data/tokenizer/chatml.ts';
import { buildTokenizerConfig, trainByteLevelBpe } from '../../data/tokenizer/bpe-train.ts';
import type { TokenizerConfig } from '../../data/tokenizer/tokenizer.ts';
import { initTessera, saveTessera } from '../../models/tessera/checkpoint.ts';
import { tesseraConfigFromSizes } from '../../models/tessera/config.ts';
import { TesseraProcessor } from '../../models/tessera/processor.ts';
import { Rng } from '../../data/synthetic/prng.ts';
import { barValueQuestions, distinctPairs, groundQuestions, sceneQuestions } from '../../data/synthetic/questions.ts';
import type { Scene } from '../../data/synthetic/sample.ts';
import { IMAGE_SIZE } from '../../data/synthetic/layout.ts';
import { IMAGE_SHAPE_TASKS, SOUND_TASKS, type Recipe } from './recipe.ts';

type Json = Record<string, unknown>;
const lines = (xs: readonly unknown[]) => xs.map((x) => `${JSON.stringify(x)}\n`).join('');
const readJsonl = (path: string): Json[] => readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Json);

/** Writes <run>/data unless data/done.json says it is already complete. */
export async function prepareData(r: Recipe, dataDir: string, log: (s: string) => void): Promise<void> {
  const done = join(dataDir, 'done.json');
  if (existsSync(done)) return;
  const train = join(dataDir, 'train'), heldout = join(dataDir, 'heldout'), text = join(dataDir, 'text');
  mkdirSync(text, { recursive: true });
  const tasks = ALL_TASKS.filter((t) => r.data.train[t] > 0);
  const records: SynthRecord[] = [];
  // tasks differ in size, so each task is its own synthesize call into the shared folder (ids are task-unique)
  const prefs: Json[] = [], metas: Json[] = [];
  for (const t of tasks) {
    const res = await synthesize({ outDir: join(train, 'media', t), tasks: [t], n: r.data.train[t], seed: r.data.trainSeed, split: 'train', prefs: true });
    records.push(...res.records);
    prefs.push(...readJsonl(join(train, 'media', t, 'prefs.jsonl')));
    metas.push(...readJsonl(join(train, 'media', t, 'meta.jsonl')));
    log(`data: ${t} ${res.records.length} train records (${res.stats[0]!.seconds.toFixed(1)} s)`);
  }
  // media paths of each task folder, rewritten relative to train/
  const rel = (t: string) => (x: Json): Json => {
    const out = { ...x };
    for (const k of ['image', 'audio']) if (typeof out[k] === 'string') out[k] = `media/${t}/${out[k] as string}`;
    return out;
  };
  const trainRecords = records.map((x) => rel(x.task)(x as unknown as Json));
  const trainPrefs = prefs.map((p) => rel(String(p.task))(p));
  writeFileSync(join(train, 'data.jsonl'), lines(trainRecords));
  writeFileSync(join(train, 'meta.jsonl'), lines(metas));
  writeFileSync(join(train, 'prefs.jsonl'), lines(trainPrefs));
  for (const t of tasks) {
    writeFileSync(join(train, `task-${t}.jsonl`), lines(trainRecords.filter((x) => x.task === t)));
    writeFileSync(join(train, `prefs-${t}.jsonl`), lines(trainPrefs.filter((x) => x.task === t).slice(0, r.data.prefsPerTask)));
  }
  writeFileSync(join(train, 'shapes.jsonl'), lines(trainRecords.filter((x) => IMAGE_SHAPE_TASKS.includes(x.task as TaskName))));
  writeFileSync(join(train, 'sounds.jsonl'), lines(trainRecords.filter((x) => SOUND_TASKS.includes(x.task as TaskName))));
  writeFileSync(join(train, 'multiturn.jsonl'), lines(multiturn(trainRecords, r.data.multiturn, r.data.trainSeed)));
  const asked = withMoreQuestions(trainRecords, metas, r.data.moreQuestions, r.data.trainSeed);
  for (const t of tasks) writeFileSync(join(train, `mq-task-${t}.jsonl`), lines(asked.filter((x) => x.task === t)));
  writeFileSync(join(train, 'where.jsonl'), lines(whereQuestions(trainRecords, metas)));
  writeFileSync(join(train, 'bars.jsonl'), lines(barQuestions(trainRecords, metas)));
  writeFileSync(join(train, 'boxes.jsonl'), lines(boxQuestions(trainRecords, metas)));

  const held = await synthesize({ outDir: heldout, tasks: [...ALL_TASKS], n: r.data.heldout, seed: r.data.heldoutSeed, split: 'heldout' });
  log(`data: ${held.records.length} held-out records`);
  writeFileSync(join(heldout, 'mixed.jsonl'), lines(interleave(held.records as unknown as Json[])));
  // pretrain-audio's held-out check (its CTC decoding of unseen voices)
  writeFileSync(join(heldout, 'sounds.jsonl'), lines((held.records as unknown as Json[]).filter((x) => SOUND_TASKS.includes(x.task as TaskName))));

  const corpus = textCorpusLines(r.data.textLines, r.data.trainSeed).map((t) => ({ text: t }));
  const convText = trainRecords.map((x) => ({ text: conversationText(x) }));
  writeFileSync(join(text, 'train.jsonl'), lines([...corpus, ...convText]));
  writeFileSync(join(text, 'heldout.jsonl'), lines(textCorpusLines(Math.max(16, r.data.textLines / 50 | 0), r.data.heldoutSeed).map((t) => ({ text: t }))));
  writeFileSync(done, `${JSON.stringify({ train: trainRecords.length, heldout: held.records.length, text: corpus.length + convText.length })}\n`);
}

/** Items of different tasks in turn, tasks in order of first appearance (so the first N cover every task). */
function interleave<T extends { readonly task?: unknown }>(xs: readonly T[]): T[] {
  const by = new Map<unknown, T[]>();
  for (const x of xs) by.set(x.task, [...(by.get(x.task) ?? []), x]);
  const queues = [...by.values()], out: T[] = [];
  for (let i = 0; out.length < xs.length; i++) for (const q of queues) if (i < q.length) out.push(q[i]!);
  return out;
}

/** n two-exchange conversations: two single-answer records joined, media lists in marker order. */
function multiturn(records: readonly Json[], n: number, seed: number): Json[] {
  const single = records.filter((x) => x.task !== 'tool');
  if (n === 0 || single.length < 2) return [];
  const rng = Rng.fork(seed, 'multiturn');
  const media = (x: Json, k: 'image' | 'audio'): string[] => (typeof x[k] === 'string' ? [x[k] as string] : []);
  return Array.from({ length: n }, (_, i) => {
    const a = single[rng.int(0, single.length - 1)]!, b = single[rng.int(0, single.length - 1)]!;
    const images = [...media(a, 'image'), ...media(b, 'image')], audios = [...media(a, 'audio'), ...media(b, 'audio')];
    return {
      id: `multiturn-${String(i).padStart(6, '0')}`, task: b.task,
      ...(images.length ? { images } : {}), ...(audios.length ? { audios } : {}),
      conversations: [...(a.conversations as Json[]), ...(b.conversations as Json[])],
    };
  });
}

/**
 * Each record with up to `extra` more exchanges about the same media (questions.ts: what its scene answers),
 * one per task in turn so a shapes image is asked e.g. a count, a color and a box rather than three colors.
 * The record's own exchange stays first, so its first turn is exactly what the evaluation asks (a `tool`
 * record's call, result and final answer too; its chart is then asked its bars' values).
 */
export function withMoreQuestions(records: readonly Json[], metas: readonly Json[], extra: number, seed: number): Json[] {
  const scenes = new Map(metas.map((m) => [m.id, m.scene as Scene]));
  return records.map((x) => {
    const scene = scenes.get(x.id);
    if (extra === 0 || !scene) return x;
    const rng = Rng.fork(seed, 'more-questions', String(x.id));
    const own = (x.conversations as { value: string }[]).map((t) => t.value.replace(/^((<image>|<audio>)\n?)+/, ''));
    const fresh = rng.shuffle(sceneQuestions(scene, 'train', rng)).filter((q) => !own.includes(q.question));
    // the tasks in a random order, then one question of each in turn
    const order = rng.shuffle([...new Set(fresh.map((q) => q.task))]);
    const picked = interleave(fresh.sort((a, b) => order.indexOf(a.task) - order.indexOf(b.task))).slice(0, extra);
    if (picked.length === 0) return x;
    const turns = picked.flatMap((q) => [{ from: 'human', value: q.question }, { from: 'gpt', value: q.answer }]);
    return { ...x, conversations: [...(x.conversations as Json[]), ...turns] };
  });
}

/**
 * One single-exchange record per question that `ask` finds in a record's scene, about the record's image
 * (ids `{prefix}-{record id}-{i}`): the data of the where, bars and boxes stages.
 */
function askEach(records: readonly Json[], metas: readonly Json[], prefix: string, ask: (scene: Scene) => readonly { task: string; question: string; answer: string }[]): Json[] {
  const scenes = new Map(metas.map((m) => [m.id, m.scene as Scene]));
  return records.flatMap((x) => {
    const scene = scenes.get(x.id);
    if (typeof x.image !== 'string' || !scene) return [];
    return ask(scene).map((q, i) => ({
      id: `${prefix}-${String(x.id)}-${i}`, task: q.task, image: x.image,
      conversations: [{ from: 'human', value: `<image>\n${q.question}` }, { from: 'gpt', value: q.answer }],
    }));
  });
}

/**
 * "Is the {color} {shape} in the left or right half?" about every object of every training image that holds two or
 * more objects of distinct (color, shape) pairs, answered from the object's centre. Naming one object among others
 * and reading where it is: the skill vqa-position and ground need, which the mix alone did not teach (DEVELOPERS.md).
 */
export function whereQuestions(records: readonly Json[], metas: readonly Json[]): Json[] {
  return askEach(records, metas, 'where', (scene) => scene.kind !== 'shapes' || scene.shapes.length < 2 || !distinctPairs(scene.shapes) ? []
    : scene.shapes.map((o) => ({ task: 'where', question: `Is the ${o.color} ${o.shape} in the left or right half?`, answer: o.cx < IMAGE_SIZE / 2 ? 'left' : 'right' })));
}

/**
 * "What is the value of bar {L}?" about every bar of every training chart (the chart-value, chart-max and tool
 * images), one question a record, as task chart-value: the bars stage's data (presets.ts).
 */
export function barQuestions(records: readonly Json[], metas: readonly Json[]): Json[] {
  return askEach(records, metas, 'bars', (scene) => scene.kind === 'chart' ? barValueQuestions(scene) : []);
}

/**
 * "Where is the {color} {shape}? Answer with a box." about every object of every training image whose objects are
 * distinct (color, shape) pairs, one question a record, as task ground: the boxes stage's data (presets.ts).
 */
export function boxQuestions(records: readonly Json[], metas: readonly Json[]): Json[] {
  return askEach(records, metas, 'box', (scene) => scene.kind === 'shapes' ? groundQuestions(scene.shapes) : []);
}

/** A record's text as the chat template frames it, markers and tool-call JSON included (tokenizer training). */
function conversationText(x: Json): string {
  const role: Json = { human: 'user', gpt: 'assistant', tool: 'user', system: 'system' };
  const turns = (x.conversations as { from: string; value: string; tool_calls?: unknown[] }[]).map((t) => {
    const calls = (t.tool_calls ?? []).map((c) => {
      const { name, arguments: args } = c as { name: string; arguments: unknown };
      return `\n<tool_call>\n{"name": "${name}", "arguments": ${JSON.stringify(args)}}\n</tool_call>`;
    }).join('');
    const body = t.from === 'tool' ? `\n<tool_response>\n${t.value}\n</tool_response>` : `\n${t.value}${calls}`;
    return `<|im_start|>${String(role[t.from])}${body}<|im_end|>\n`;
  });
  return `<|im_start|>system\n${defaultSystemPrompt}<|im_end|>\n${turns.join('')}<|im_start|>assistant\n`;
}

/** Trains the tokenizer and writes the initialised model + processor to `initDir` (skipped when present). */
export function prepareModel(r: Recipe, dataDir: string, initDir: string, log: (s: string) => void): void {
  if (existsSync(join(initDir, 'model.safetensors'))) return;
  const texts = readJsonl(join(dataDir, 'text/train.jsonl')).map((x) => String(x.text));
  const tokenizerJson = trainByteLevelBpe({ texts, ...r.tokenizer });
  const ids = new Map(tokenizerJson.added_tokens.map((t) => [t.content, t.id]));
  const vocabSize = Math.max(...tokenizerJson.added_tokens.map((t) => t.id)) + 1;
  const m = r.model;
  const config = tesseraConfigFromSizes({
    vocabSize, imageTokenId: ids.get('<image>')!, audioTokenId: ids.get('<audio>')!,
    hidden: m.hidden, layers: m.layers, heads: m.heads, kvHeads: m.kvHeads, maxPositions: m.maxPositions, vision: m.vision, audio: m.audio,
  });
  const model = initTessera(config, r.data.trainSeed, { std: m.initStd });
  const tokenizerConfig = buildTokenizerConfig(tokenizerJson, { chatTemplate: chatmlTemplate }) as TokenizerConfig;
  const processor = TesseraProcessor.forModel(model.config, tokenizerJson as unknown as Record<string, unknown>, tokenizerConfig);
  saveTessera(initDir, model, processor);
  const params = [...model.namedParameters()].reduce((n, [, p]) => n + p.size, 0);
  log(`model: vocab ${vocabSize}, ${(params / 1e6).toFixed(2)} M parameters, saved to ${initDir}`);
}
