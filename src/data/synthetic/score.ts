// The card's scorer (shared/tasks/SYNTHETIC_TASKS.md, "Scoring"): exact match after normalising both sides
// (lower-case, trim, collapse white space, drop one trailing period); `ground` by IoU ≥ 0.5 of the first four
// integers in the answer; `tool` by a well-formed calculator call whose expression evaluates to the true sum,
// plus the final answer. Chance levels are for uniform guessing over each task's answer space.
import type { ToolCall } from './sample.ts';
import type { TaskName } from './vocab.ts';

export function normalizeAnswer(s: string): string {
  const t = s.toLowerCase().trim().replace(/\s+/g, ' ');
  return t.endsWith('.') ? t.slice(0, -1).trimEnd() : t;
}

export function exactMatch(prediction: string, reference: string): boolean {
  return normalizeAnswer(prediction) === normalizeAnswer(reference);
}

/** The first four integers in a string, or null when it has fewer. */
export function parseBox(s: string): [number, number, number, number] | null {
  const ints = s.match(/-?\d+/g);
  if (!ints || ints.length < 4) return null;
  return [Number(ints[0]), Number(ints[1]), Number(ints[2]), Number(ints[3])];
}

/** Intersection over union of two [x1, y1, x2, y2] boxes (corners in any order). */
export function boxIoU(a: readonly number[], b: readonly number[]): number {
  const norm = (r: readonly number[]) => [Math.min(r[0]!, r[2]!), Math.min(r[1]!, r[3]!), Math.max(r[0]!, r[2]!), Math.max(r[1]!, r[3]!)] as const;
  const [ax1, ay1, ax2, ay2] = norm(a);
  const [bx1, by1, bx2, by2] = norm(b);
  const iw = Math.max(0, Math.min(ax2, bx2) - Math.max(ax1, bx1));
  const ih = Math.max(0, Math.min(ay2, by2) - Math.max(ay1, by1));
  const inter = iw * ih;
  const union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter;
  return union > 0 ? inter / union : 0;
}

/** Evaluates + - * / and parentheses over decimal numbers; throws on anything else (never `eval`). */
export function evaluateExpression(expr: string): number {
  const tokens = expr.match(/\d+(?:\.\d+)?|[-+*/()]|\S/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const fail = (why: string): never => {
    throw new Error(`calculator expression ${JSON.stringify(expr)}: ${why}`);
  };
  const primary = (): number => {
    const t = tokens[i++];
    if (t === undefined) return fail('ends early');
    if (t === '(') {
      const v = sum();
      if (tokens[i++] !== ')') fail('missing )');
      return v;
    }
    if (t === '-') return -primary();
    if (t === '+') return primary();
    if (/^\d/.test(t)) return Number(t);
    return fail(`unexpected ${JSON.stringify(t)}`);
  };
  const product = (): number => {
    let v = primary();
    while (peek() === '*' || peek() === '/') v = tokens[i++] === '*' ? v * primary() : v / primary();
    return v;
  };
  const sum = (): number => {
    let v = product();
    while (peek() === '+' || peek() === '-') v = tokens[i++] === '+' ? v + product() : v - product();
    return v;
  };
  if (tokens.length === 0) fail('empty');
  const v = sum();
  if (i !== tokens.length) fail(`unexpected ${JSON.stringify(tokens[i])}`);
  return v;
}

/**
 * Reads a calculator call from what a model or a record produced: a ToolCall object, an OpenAI-style call
 * (`{function:{name, arguments:"{…}"}}`), a gpt turn with `tool_calls`, or text holding the call's JSON
 * (optionally inside `<tool_call>…</tool_call>`). Returns null when no well-formed call is found.
 */
export function parseToolCall(x: unknown): ToolCall | null {
  if (typeof x === 'string') {
    const inner = x.match(/<tool_call>([\s\S]*?)<\/tool_call>/)?.[1] ?? x;
    const start = inner.indexOf('{');
    const end = inner.lastIndexOf('}');
    if (start < 0 || end <= start) return null;
    try {
      return parseToolCall(JSON.parse(inner.slice(start, end + 1)));
    } catch {
      return null;
    }
  }
  if (typeof x !== 'object' || x === null) return null;
  const o = x as Record<string, unknown>;
  if (Array.isArray(o['tool_calls'])) return parseToolCall(o['tool_calls'][0]);
  if (typeof o['function'] === 'object') return parseToolCall(o['function']);
  let args = o['arguments'];
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args);
    } catch {
      return null;
    }
  }
  if (typeof o['name'] !== 'string' || typeof args !== 'object' || args === null) return null;
  const expression = (args as Record<string, unknown>)['expression'];
  if (typeof expression !== 'string') return null;
  return { name: o['name'], arguments: { expression } };
}

/** A `tool` item is right when the call is calculator(expression = true sum) and the final answer equals it. */
export function scoreTool(prediction: { readonly call: unknown; readonly final: string }, trueSum: number): boolean {
  const call = parseToolCall(prediction.call);
  if (!call || call.name !== 'calculator') return false;
  let value: number;
  try {
    value = evaluateExpression(call.arguments.expression);
  } catch {
    return false;
  }
  return Math.abs(value - trueSum) < 1e-9 && exactMatch(prediction.final, String(trueSum));
}

/** Scores every task but `tool` (use scoreTool): exact match, or IoU ≥ 0.5 for `ground`. */
export function scoreAnswer(task: TaskName, prediction: string, reference: string): boolean {
  if (task === 'tool') throw new Error('scoreAnswer: score `tool` items with scoreTool (it needs the call)');
  if (task === 'ground') {
    const p = parseBox(prediction);
    const r = parseBox(reference);
    if (!r) throw new Error(`scoreAnswer: ground reference ${JSON.stringify(reference)} holds no box`);
    return p !== null && boxIoU(p, r) >= 0.5;
  }
  return exactMatch(prediction, reference);
}

/**
 * Accuracy of uniform guessing over the task's answers as this card defines them. Open-ended tasks (caption,
 * ocr, digit strings) are effectively 0; `ground` is the measured rate at which a random box (corners uniform
 * in 0–100) reaches IoU 0.5 with a generated object's box (20k trials: 0.17 %; always answering the centre box
 * [35, 35, 65, 65] scores 1.35 %); `tool` is one sum guessed among 3…45.
 */
export const CHANCE: Readonly<Record<TaskName, number>> = {
  caption: 1 / (18 + 18 * 17 + 18 * 17 * 16),
  'vqa-color': 1 / 6,
  'vqa-shape': 1 / 3,
  'vqa-count': 1 / 6,
  'vqa-position': 1 / 2,
  'vqa-exist': 1 / 2,
  ocr: 1 / (26 ** 3 + 26 ** 4 + 26 ** 5 + 26 ** 6 + 10000),
  'chart-value': 1 / 9,
  'chart-max': (1 / 3 + 1 / 4 + 1 / 5) / 3,
  ground: 0.002,
  'asr-digits': 1 / 1110,
  'audio-number': 1 / 1110,
  beeps: 1 / 5,
  pitch: 1 / 2,
  'cross-count': 1 / 2,
  tool: 1 / 43,
};

export function chanceLevel(task: TaskName): number {
  return CHANCE[task];
}

export interface TaskScore {
  readonly task: TaskName;
  readonly count: number;
  readonly correct: number;
  readonly accuracy: number;
  readonly chance: number;
}

/** Per-task accuracy, count and chance from a list of graded items, in first-seen task order. */
export function summarize(results: readonly { readonly task: TaskName; readonly correct: boolean }[]): TaskScore[] {
  const by = new Map<TaskName, { count: number; correct: number }>();
  for (const r of results) {
    const s = by.get(r.task) ?? { count: 0, correct: 0 };
    s.count++;
    if (r.correct) s.correct++;
    by.set(r.task, s);
  }
  return [...by].map(([task, s]) => ({ task, count: s.count, correct: s.correct, accuracy: s.correct / s.count, chance: CHANCE[task] }));
}
