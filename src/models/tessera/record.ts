// One LLaVA-style JSONL record (shared/tasks/SYNTHETIC_TASKS.md) checked and turned into chat messages, and a
// conversation rendered with the chat template as a list of text segments that are or are not trained on.
//
// Which text is an assistant's is found by rendering prefixes of the conversation: the text an assistant turn
// adds after `<|im_start|>assistant\n` (the generation prompt) up to and including its `<|im_end|>` is labelled,
// so the model learns the answer, the tool-call text of a calling turn and when to stop — and nothing of the
// prompt, the system text, the user turns or the tool results. This needs the template to render each prefix of
// a conversation as a prefix of the whole rendering, which ChatML does (checked; a template that does not is an error).

import { renderChat, type ChatMessage } from '../../infer/chat-template.ts';

export interface RecordTurn {
  readonly from: 'system' | 'human' | 'gpt' | 'tool';
  readonly value: string;
  readonly tool_calls?: readonly { readonly name: string; readonly arguments: unknown }[];
}

export interface MediaRecord {
  readonly id: string;
  readonly conversations: readonly RecordTurn[];
  /** Media paths (relative to the JSONL file), in marker order. */
  readonly images: readonly string[];
  readonly audios: readonly string[];
}

const roles: Readonly<Record<RecordTurn['from'], string>> = { system: 'system', human: 'user', gpt: 'assistant', tool: 'tool' };

function paths(r: Record<string, unknown>, one: string, many: string, where: string): string[] {
  const a = r[one], b = r[many];
  if (a !== undefined && b !== undefined) throw new Error(`${where}: give "${one}" or "${many}", not both`);
  const list = a !== undefined ? [a] : b === undefined ? [] : b;
  if (!Array.isArray(list) || !list.every((p) => typeof p === 'string' && p.length > 0)) {
    throw new Error(`${where}: "${a !== undefined ? one : many}" must be ${a !== undefined ? 'a path' : 'a list of paths'}`);
  }
  return list as string[];
}

/** Checks the shape of a parsed JSONL record; errors name the record id (or its position) and the field. */
export function parseMediaRecord(raw: unknown, fallbackId = '?'): MediaRecord {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`record ${fallbackId}: must be a JSON object`);
  const r = raw as Record<string, unknown>;
  const id = typeof r.id === 'string' || typeof r.id === 'number' ? String(r.id) : fallbackId;
  const where = `record ${id}`;
  const conv = r.conversations;
  if (!Array.isArray(conv) || conv.length === 0) throw new Error(`${where}: "conversations" must be a non-empty list`);
  const turns = conv.map((t: unknown, i): RecordTurn => {
    const w = `${where}: conversations[${i}]`;
    if (!t || typeof t !== 'object') throw new Error(`${w} must be an object`);
    const { from, value, tool_calls: calls } = t as Record<string, unknown>;
    if (from !== 'system' && from !== 'human' && from !== 'gpt' && from !== 'tool') {
      throw new Error(`${w}: "from" must be system, human, gpt or tool, got ${JSON.stringify(from)}`);
    }
    if (typeof value !== 'string') throw new Error(`${w}: "value" must be a string`);
    if (calls === undefined) return { from, value };
    if (from !== 'gpt') throw new Error(`${w}: only a gpt turn may hold tool_calls`);
    if (!Array.isArray(calls) || !calls.every((c) => c && typeof c === 'object' && typeof (c as { name?: unknown }).name === 'string')) {
      throw new Error(`${w}: "tool_calls" must be a list of {name, arguments}`);
    }
    return { from, value, tool_calls: calls as NonNullable<RecordTurn['tool_calls']> };
  });
  const first = turns[0]!.from;
  if (first !== 'system' && first !== 'human') throw new Error(`${where}: the conversation must start with a system or human turn, not ${first}`);
  if (!turns.some((t) => t.from === 'gpt')) throw new Error(`${where}: the conversation has no gpt turn to learn from`);
  return { id, conversations: turns, images: paths(r, 'image', 'images', where), audios: paths(r, 'audio', 'audios', where) };
}

/** Record turns as chat-template messages (gpt tool calls become `tool_calls: [{name, arguments}]`). */
export function recordMessages(turns: readonly RecordTurn[]): ChatMessage[] {
  return turns.map((t) => {
    const m: ChatMessage = { role: roles[t.from], content: t.value };
    if (t.tool_calls?.length) m.tool_calls = t.tool_calls.map((c) => ({ name: c.name, arguments: c.arguments ?? {} }));
    return m;
  });
}

export interface Segment {
  readonly text: string;
  readonly labelled: boolean;
}

const imEnd = '<|im_end|>';

/**
 * The rendering of `messages` cut into segments; assistant content + its `<|im_end|>` are labelled. With
 * `addGenerationPrompt` the rendering ends with an open assistant turn (for prompts, nothing is labelled then).
 *
 * Placing the labels renders every prefix of the conversation (about 0.75·k² message renderings for k messages,
 * most of the time of encoding a training set), so the cut is made once per conversation shape — roles, tool calls,
 * each content replaced by a placeholder — and the contents are put into the placeholders' segments. One rendering
 * of the real conversation checks the result; a template that looks into the contents (trims them, tests them)
 * fails that check, and its conversation is cut by rendering its own prefixes, as every conversation once was.
 */
export function renderSegments(template: string, messages: readonly ChatMessage[], where: string, addGenerationPrompt = false): Segment[] {
  const contents = messages.map((m) => m.content);
  if (!contents.every((c): c is string => typeof c === 'string' && !c.includes(HOLE))) return exactSegments(template, messages, where, addGenerationPrompt);
  const shape = messages.map((m, i) => ({ ...m, content: hole(i) }));
  const key = `${addGenerationPrompt ? 1 : 0}${JSON.stringify(shape)}`;
  let cuts = shapeCache.get(template);
  if (!cuts) shapeCache.set(template, cuts = new Map());
  let skeleton = cuts.get(key);
  if (skeleton === undefined) {
    try {
      skeleton = exactSegments(template, shape, where, addGenerationPrompt);
    } catch {
      skeleton = null; // the placeholders themselves may upset a template: cut the real conversation instead
    }
    if (cuts.size >= SHAPES_KEPT) cuts.clear();
    cuts.set(key, skeleton);
  }
  if (!skeleton) return exactSegments(template, messages, where, addGenerationPrompt);
  const filled = skeleton.map((s) => ({ text: s.text.replace(HOLES, (_, i: string) => contents[Number(i)]!), labelled: s.labelled })).filter((s) => s.text);
  const whole = renderChat(template, messages, { addGenerationPrompt });
  return filled.map((s) => s.text).join('') === whole ? filled : exactSegments(template, messages, where, addGenerationPrompt);
}

// U+E000 / U+E001 (private use) around the message index: text the data never holds (checked above)
const HOLE = '\uE000';
const HOLES = /\uE000(\d+)\uE001/g;
const hole = (i: number) => `${HOLE}${i}\uE001`;
/** Cut skeletons per template, by conversation shape (a training set has a handful of shapes; bounded anyway). */
const shapeCache = new Map<string, Map<string, Segment[] | null>>();
const SHAPES_KEPT = 4096;

/** The cut found by rendering every prefix of this very conversation. Exported for the tests. */
export function exactSegments(template: string, messages: readonly ChatMessage[], where: string, addGenerationPrompt = false): Segment[] {
  const segments: Segment[] = [];
  let done = '';
  const take = (rendered: string, labelled: boolean): void => {
    if (!rendered.startsWith(done)) throw new Error(`${where}: the chat template does not render conversation prefixes as prefixes; cannot place labels`);
    const text = rendered.slice(done.length);
    if (text) segments.push({ text, labelled });
    done = rendered;
  };
  const render = (n: number, gen: boolean): string => renderChat(template, messages.slice(0, n), { addGenerationPrompt: gen });
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') return take(render(i + 1, false), false);
    if (i === 0) throw new Error(`${where}: the conversation must not start with an assistant turn`);
    take(render(i, true), false);
    const full = render(i + 1, false);
    // The newline after <|im_end|> separates turns; the model stops at <|im_end|>, so it is not trained on.
    const end = full.lastIndexOf(imEnd);
    if (end < done.length) throw new Error(`${where}: assistant turn ${i} does not end with ${imEnd}`);
    take(full.slice(0, end + imEnd.length), true);
    take(full, false);
  });
  if (addGenerationPrompt) take(render(messages.length, true), false);
  return segments;
}
