// Prediction on task records (shared/tasks/SYNTHETIC_TASKS.md): the turns before the first gpt turn are the
// prompt, the model answers by greedy decoding, and a `tool` record runs the built-in calculator on the
// model's call (src/data/synthetic/score.ts evaluateExpression, never `eval`) and decodes the final answer
// after the tool result. Media can be swapped for a blank image / silence of the same size, which is how the
// evaluator measures the no-media baseline.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import sharp from 'sharp';
import type { ChatMessage } from '../infer/chat-template.ts';
import { loadAudio } from '../data/audio/load.ts';
import { evaluateExpression, parseToolCall } from '../data/synthetic/score.ts';
import { loadTessera } from '../models/tessera/checkpoint.ts';
import type { TesseraModel } from '../models/tessera/model.ts';
import type { PromptMedia, TesseraProcessor } from '../models/tessera/processor.ts';
import { parseMediaRecord, recordMessages } from '../models/tessera/record.ts';
import { writeFileAtomic } from '../io/atomic.ts';

export interface TaskRecord {
  id: string;
  task: string;
  /** Absolute media paths in marker order. */
  images: string[];
  audios: string[];
  /** Chat messages before the first assistant turn. */
  prompt: ChatMessage[];
  /** The first assistant answer, or for `tool` the final answer after the tool turn. */
  reference: string;
}

export type Prediction = { id: string; answer: string } | { id: string; turns: [unknown, string] };

export interface Predictor {
  model: TesseraModel;
  processor: TesseraProcessor;
  maxNewTokens: number;
}

/** Reads a JSONL of task records; errors name file and line. */
export function readTaskRecords(path: string, limit = Infinity): TaskRecord[] {
  const base = dirname(resolve(path));
  const out: TaskRecord[] = [];
  const lines = readFileSync(path, 'utf8').split('\n');
  for (let i = 0; i < lines.length && out.length < limit; i++) {
    if (!lines[i]!.trim()) continue;
    try {
      const raw = JSON.parse(lines[i]!) as Record<string, unknown>;
      const r = parseMediaRecord(raw, `line ${i + 1}`);
      if (typeof raw.task !== 'string') throw new Error(`record ${r.id}: "task" must be a string`);
      const firstGpt = r.conversations.findIndex((t) => t.from === 'gpt');
      const gpts = r.conversations.filter((t) => t.from === 'gpt');
      const reference = raw.task === 'tool' ? gpts.at(-1)!.value : gpts[0]!.value;
      out.push({
        id: r.id, task: raw.task, images: r.images.map((p) => resolve(base, p)), audios: r.audios.map((p) => resolve(base, p)),
        prompt: recordMessages(r.conversations.slice(0, firstGpt)), reference,
      });
    } catch (e) {
      throw new Error(`${path}:${i + 1}: ${(e as Error).message}`);
    }
  }
  return out;
}

/** The record's media, or (blank) a white image / silence of the same size in place of each. */
export async function mediaOf(r: TaskRecord, blank: boolean): Promise<PromptMedia> {
  if (!blank) return { images: r.images, audios: r.audios };
  const images = await Promise.all(r.images.map(async (p) => {
    const m = await sharp(p).metadata();
    const width = m.width ?? 1, height = m.height ?? 1;
    return { width, height, data: new Uint8Array(width * height * 3).fill(255) };
  }));
  const audios = await Promise.all(r.audios.map(async (p) => new Float32Array((await loadAudio(p, 16000)).samples.length)));
  return { images, audios };
}

/** One greedy assistant turn; special tokens other than the tool-call tags are dropped from the text. */
export async function generateTurn(p: Predictor, messages: readonly ChatMessage[], media: PromptMedia, id: string): Promise<string> {
  const sample = await p.processor.encodePrompt(messages, media, id);
  const batch = p.processor.collate([sample], { padSide: 'left' });
  const { tokens } = p.model.generate(batch, p.maxNewTokens, p.processor.eosTokenId);
  // media placeholders are never answer text; kept, they would read as markers when the turn is fed back (tool)
  const drop = new Set([p.processor.eosTokenId, p.processor.imageTokenId, p.processor.audioTokenId]);
  const ids = tokens[0]!.filter((t) => !drop.has(t));
  return p.processor.tokenizer.decode(ids, { skipSpecialTokens: false })
    .replaceAll('<|im_end|>', '').replaceAll('<|endoftext|>', '').trim();
}

/** The prediction for one record (with its media, or blanked). */
export async function predictRecord(p: Predictor, r: TaskRecord, blank = false): Promise<Prediction> {
  const media = await mediaOf(r, blank);
  const first = await generateTurn(p, r.prompt, media, r.id);
  if (r.task !== 'tool') return { id: r.id, answer: first };
  const call = parseToolCall(first);
  let result: string;
  try {
    if (!call) throw new Error('no well-formed tool call');
    if (call.name !== 'calculator') throw new Error(`unknown tool ${call.name}`);
    result = String(evaluateExpression(call.arguments.expression));
  } catch (e) {
    result = `error: ${(e as Error).message}`;
  }
  const messages: ChatMessage[] = [
    ...r.prompt,
    call ? { role: 'assistant', content: '', tool_calls: [{ name: call.name, arguments: call.arguments }] } : { role: 'assistant', content: first },
    { role: 'tool', content: result },
  ];
  const final = await generateTurn(p, messages, media, r.id);
  return { id: r.id, turns: [call ?? first, final] };
}

export async function predictFile(modelDir: string, dataPath: string, outPath: string, o: { limit?: number; maxNewTokens?: number } = {}): Promise<number> {
  const { model, processor } = loadTessera(modelDir);
  const p: Predictor = { model: model.eval(), processor, maxNewTokens: o.maxNewTokens ?? 48 };
  const lines: string[] = [];
  for (const r of readTaskRecords(dataPath, o.limit)) lines.push(JSON.stringify(await predictRecord(p, r)));
  writeFileAtomic(outPath, [new TextEncoder().encode(lines.map((l) => `${l}\n`).join(''))]);
  return lines.length;
}
