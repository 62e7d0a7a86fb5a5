// What one task generator hands back: the media bytes, the question, the reply turns, a wrong answer for
// preference pairs, and the scene it drew (the generator's own record, kept for checks and meta.jsonl).
import type { PlacedShape } from './layout.ts';
import type { Pair, TaskName } from './vocab.ts';

/** A calculator call as the `tool` task records it on the gpt turn: `{"name":"calculator","arguments":{"expression":"3+7+2"}}`. */
export interface ToolCall {
  readonly name: string;
  readonly arguments: { readonly expression: string };
}

export interface Turn {
  readonly from: 'system' | 'human' | 'gpt' | 'tool';
  readonly value: string;
  readonly tool_calls?: readonly ToolCall[];
}

export interface SpeechScene {
  readonly kind: 'speech';
  readonly words: readonly string[];
  readonly voice: string;
  readonly speed: number;
  readonly pitch: number;
  readonly mode: 'phrase' | 'concat';
  readonly effects: readonly string[];
  readonly seconds: number;
}

export interface ToneScene {
  readonly kind: 'tones';
  /** Each tone: start and duration in seconds, frequency in Hz. */
  readonly tones: readonly { readonly start: number; readonly dur: number; readonly freq: number }[];
  readonly seconds: number;
}

export interface ChartScene {
  readonly kind: 'chart';
  readonly values: readonly number[];
  readonly labels: readonly string[];
  readonly top: number;
  readonly style: string;
  readonly plot: { readonly x0: number; readonly y0: number; readonly x1: number; readonly y1: number };
  /** Each bar's centre x and their common width; the letters (labelSize px high) sit 3 px under the baseline y1. */
  readonly bars?: { readonly centers: readonly number[]; readonly width: number; readonly labelSize: number };
}

export interface TextScene {
  readonly kind: 'text';
  readonly text: string;
  readonly font: string;
  readonly weight: string;
  /** Ink height in px; the ink box is `inkWidth` × `height`, centred on `center`, rotated by `angle` (radians). */
  readonly height: number;
  readonly angle: number;
  readonly center?: readonly [number, number];
  readonly inkWidth?: number;
  /** Per character: its advance box [x0, x1] along the line, px from the ink's left edge. */
  readonly spans?: readonly (readonly [number, number])[];
}

export type Scene =
  | { readonly kind: 'shapes'; readonly shapes: readonly PlacedShape[]; readonly target?: Pair }
  | TextScene
  | ChartScene
  | SpeechScene
  | ToneScene
  | { readonly kind: 'cross'; readonly circles: readonly PlacedShape[]; readonly speech: SpeechScene };

export interface Sample {
  readonly task: TaskName;
  readonly image?: Buffer;
  readonly audio?: Buffer;
  /** The human question, without media markers. */
  readonly question: string;
  /** Turns after the question: usually one gpt turn; `tool` has call, tool result, final answer. */
  readonly reply: readonly Turn[];
  /** The final answer (the last gpt turn's value). */
  readonly answer: string;
  /** A plausible wrong final answer (wrong attribute, hallucination, off-by-one …) for DPO pairs. */
  readonly rejected: string;
  readonly scene: Scene;
}

export function plainSample(task: TaskName, question: string, answer: string, rejected: string, scene: Scene, media: { image?: Buffer; audio?: Buffer }): Sample {
  if (answer === rejected) throw new Error(`${task}: rejected answer equals the answer (${answer})`);
  return { task, ...media, question, reply: [{ from: 'gpt', value: answer }], answer, rejected, scene };
}
