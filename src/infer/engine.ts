// The chat engine behind the server and the chat CLI: one loaded checkpoint (a text decoder, tessera or LLaVA; the
// model side is multimodal.ts), its tokenizer and chat template, turning an OpenAI-shaped conversation with
// images and audio into a streamed reply (generate.ts, KV-cached), tool calls (tool-calls.ts) and embeddings.
// Media parts are decoded here (images with sharp, audio natively as WAV or through ffmpeg) in order of
// appearance, checked against the limits, and handed to the model's processor with the rendered prompt.
// The template is the checkpoint's own (tokenizer_config.json `chat_template`, or chat_template.jinja), else
// tessera's ChatML (src/data/tokenizer/chatml.ts). Embeddings are the mean of the decoder's final hidden
// states over the text's tokens, L2-normalised (as sentence-transformers' mean pooling + Normalize).
// Bad input (too many pixels, too long audio, prompt over the context, media the model cannot take) is a
// ChatInputError, which the server answers with 400.
//
// Shapes: T tokens, C hidden.

import { basename } from 'node:path';
import type { Tokenizer } from '../data/tokenizer/tokenizer.ts';
import { decodeImage } from '../models/vision/preprocess/decode.ts';
import { loadAudio } from '../data/audio/load.ts';
import { noGrad, tensor } from '../tensor/index.ts';
import { renderChat, type ChatMessage } from './chat-template.ts';
import { generateText } from './generate.ts';
import { Sampler, type SamplingOptions } from './sampler.ts';
import { ToolCallHoldback, type ToolCall } from './tool-calls.ts';
import { openRunner, PromptMediaError, type ModelRunner, type PromptMedia } from './multimodal.ts';

export type MediaPart =
  | { type: 'text'; text: string }
  | { type: 'image'; data: Uint8Array }
  | { type: 'audio'; data: Uint8Array; format: string };

export interface EngineMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string | MediaPart[] | null;
  toolCalls?: ToolCall[];
  toolCallId?: string;
}

export type ToolChoice = 'none' | 'auto' | 'required' | { name: string };

export interface ChatRequest {
  messages: EngineMessage[];
  /** OpenAI function tools `{type:'function', function:{name, description, parameters}}`. */
  tools?: readonly { type: 'function'; function: { name: string; [k: string]: unknown } }[];
  toolChoice?: ToolChoice;
  maxTokens?: number;
  stop?: readonly string[];
  sampling?: SamplingOptions;
}

export interface Usage { promptTokens: number; completionTokens: number; totalTokens: number }

export interface ChatResult {
  text: string;
  toolCalls?: ToolCall[];
  finishReason: 'stop' | 'length' | 'tool_calls';
  usage: Usage;
}

export interface EngineLimits { maxImagePixels: number; maxAudioSeconds: number; contextLength: number }

export interface ChatEngine {
  readonly modelId: string;
  readonly limits: EngineLimits;
  chat(req: ChatRequest, onDelta: (text: string) => void, signal?: AbortSignal): Promise<ChatResult>;
  embed(texts: readonly string[]): Promise<{ vectors: number[][]; promptTokens: number }>;
}

/** A problem with the request itself (answered with 400 by the server). */
export class ChatInputError extends Error {
  constructor(message: string, readonly param: string | null = null, readonly code: string | null = null) {
    super(message);
    this.name = 'ChatInputError';
  }
}

/** Thrown by `chat` when its signal aborts. */
export class ChatAbortedError extends Error {
  constructor() { super('generation cancelled'); this.name = 'ChatAbortedError'; }
}

export interface EngineOptions {
  modelId?: string;
  maxImagePixels?: number;
  maxAudioSeconds?: number;
  /** Default max_tokens when the request gives none. */
  defaultMaxTokens?: number;
}

/** Loads a checkpoint folder (text decoder, tessera or LLaVA: config.json, weights, tokenizer) as a ChatEngine. */
export async function createEngine(modelDir: string, opts: EngineOptions = {}): Promise<ChatEngine> {
  return engineFromRunner(await openRunner(modelDir), { ...opts, modelId: opts.modelId ?? basename(modelDir) });
}

/** A ChatEngine over a loaded model (multimodal.ts); tests build runners in memory. */
export function engineFromRunner(runner: ModelRunner, opts: EngineOptions = {}): ChatEngine {
  return new TesseraEngine(runner, {
    modelId: opts.modelId ?? runner.kind,
    maxImagePixels: opts.maxImagePixels ?? 4096 * 4096,
    maxAudioSeconds: opts.maxAudioSeconds ?? 30,
    defaultMaxTokens: opts.defaultMaxTokens ?? 256,
  });
}

class TesseraEngine implements ChatEngine {
  readonly modelId: string;
  readonly limits: EngineLimits;
  private readonly tokenizer: Tokenizer;

  constructor(private readonly runner: ModelRunner, private readonly opts: Required<EngineOptions>) {
    this.modelId = opts.modelId;
    this.tokenizer = runner.tokenizer;
    this.limits = Object.freeze({
      maxImagePixels: opts.maxImagePixels,
      maxAudioSeconds: Math.min(opts.maxAudioSeconds, runner.maxAudioSeconds),
      contextLength: runner.contextLength,
    });
  }

  /** Decodes and checks every media part, in order of appearance; media the model cannot take is refused after the checks. */
  private async decodeMedia(messages: readonly EngineMessage[]): Promise<PromptMedia> {
    const media: PromptMedia = { images: [], audios: [] };
    for (const [i, m] of messages.entries()) {
      if (!Array.isArray(m.content)) continue;
      for (const [j, part] of m.content.entries()) {
        const param = `messages[${i}].content[${j}]`;
        if (part.type === 'image') {
          let img;
          try {
            img = await decodeImage(part.data, { maxPixels: this.limits.maxImagePixels });
          } catch (e) {
            throw new ChatInputError(`${param}: ${(e as Error).message} (limit ${this.limits.maxImagePixels} pixels)`, param, 'invalid_image');
          }
          if (!this.runner.accepts.image) {
            throw new ChatInputError(`${param}: model ${this.modelId} takes no image input (${img.width}x${img.height} image given)`, param, 'unsupported_media');
          }
          media.images.push(img);
        }
        if (part.type === 'audio') {
          let audio;
          try {
            audio = await loadAudio(part.data, 16000, { maxSeconds: this.limits.maxAudioSeconds + 1 });
          } catch (e) {
            throw new ChatInputError(`${param}: ${(e as Error).message}`, param, /limit/.test((e as Error).message) ? 'audio_too_long' : 'invalid_audio');
          }
          const seconds = audio.samples.length / audio.sampleRate;
          if (audio.samples.length === 0) throw new ChatInputError(`${param}: the audio is empty`, param, 'invalid_audio');
          if (seconds > this.limits.maxAudioSeconds) {
            throw new ChatInputError(`${param}: audio is ${seconds.toFixed(2)} s, over the limit of ${this.limits.maxAudioSeconds} s`, param, 'audio_too_long');
          }
          if (!this.runner.accepts.audio) throw new ChatInputError(`${param}: model ${this.modelId} takes no audio input`, param, 'unsupported_media');
          media.audios.push(audio.samples);
        }
      }
    }
    return media;
  }

  private render(req: ChatRequest, useTools: boolean): string {
    let tools = useTools ? req.tools : undefined;
    const choice = req.toolChoice;
    if (tools && typeof choice === 'object') tools = tools.filter((t) => t.function.name === choice.name);
    const messages: ChatMessage[] = req.messages.map((m) => {
      const content = m.content === null ? '' : typeof m.content === 'string' ? m.content
        : m.content.map((p) => (p.type === 'text' ? { type: 'text' as const, text: p.text } : { type: p.type }));
      const out: ChatMessage = { role: m.role, content };
      if (m.toolCalls) out.tool_calls = m.toolCalls.map((c) => ({ type: 'function', function: { name: c.function.name, arguments: c.function.arguments } }));
      if (m.toolCallId) out.tool_call_id = m.toolCallId;
      return out;
    });
    return renderChat(this.runner.template, messages, {
      addGenerationPrompt: true,
      ...(tools && tools.length ? { tools: [...tools] } : {}),
      ...(this.tokenizer.bosToken ? { bosToken: this.tokenizer.bosToken } : {}),
      ...(this.tokenizer.eosToken ? { eosToken: this.tokenizer.eosToken } : {}),
    });
  }

  async chat(req: ChatRequest, onDelta: (text: string) => void, signal?: AbortSignal): Promise<ChatResult> {
    if (req.messages.length === 0) throw new ChatInputError('messages must not be empty', 'messages');
    const media = await this.decodeMedia(req.messages);
    const useTools = !!req.tools?.length && req.toolChoice !== 'none';
    let promptText: string;
    try {
      promptText = this.render(req, useTools);
    } catch (e) {
      throw new ChatInputError((e as Error).message, 'messages');
    }
    let prepared;
    try {
      prepared = await this.runner.prepare(promptText, media);
    } catch (e) {
      if (e instanceof PromptMediaError) throw new ChatInputError(e.message, 'messages', 'media_mismatch');
      throw e;
    }
    const prompt = prepared.ids;
    const context = this.limits.contextLength;
    if (prompt.length >= context) {
      throw new ChatInputError(`the prompt is ${prompt.length} tokens; model ${this.modelId} has a context of ${context} tokens`, 'messages', 'context_length_exceeded');
    }
    const maxTokens = Math.min(req.maxTokens ?? this.opts.defaultMaxTokens, context - prompt.length);
    let sampler: Sampler;
    try {
      sampler = new Sampler(req.sampling ?? {});
    } catch (e) {
      throw new ChatInputError((e as Error).message);
    }
    const holdback = useTools ? new ToolCallHoldback() : null;
    const gen = generateText(this.runner.step, this.tokenizer, {
      prompt, sampler, maxTokens, eosIds: this.runner.eosIds, ...(prepared.embeds ? { promptEmbeds: prepared.embeds } : {}), stopStrings: req.stop ?? [], ...(signal ? { signal } : {}),
    });
    let r = await gen.next();
    while (!r.done) {
      const out = holdback ? holdback.push(r.value) : r.value;
      if (out) onDelta(out);
      r = await gen.next();
    }
    if (r.value.finishReason === 'abort') throw new ChatAbortedError();
    const usage = { promptTokens: prompt.length, completionTokens: r.value.completionTokens, totalTokens: prompt.length + r.value.completionTokens };
    const finishReason = r.value.finishReason;
    if (!holdback) return { text: r.value.text, finishReason, usage };
    const { rest, parsed } = holdback.finish();
    if (rest) onDelta(rest);
    if (parsed.toolCalls.length === 0) return { text: r.value.text, finishReason, usage };
    return { text: parsed.content ?? '', toolCalls: parsed.toolCalls, finishReason: 'tool_calls', usage };
  }

  async embed(texts: readonly string[]): Promise<{ vectors: number[][]; promptTokens: number }> {
    const vectors: number[][] = [];
    let promptTokens = 0;
    for (const [i, text] of texts.entries()) {
      const ids = this.tokenizer.encodeIds(text, { addSpecialTokens: false });
      if (ids.length === 0) throw new ChatInputError(`input[${i}] is empty`, 'input');
      if (ids.length > this.limits.contextLength) {
        throw new ChatInputError(`input[${i}] is ${ids.length} tokens; the context is ${this.limits.contextLength}`, 'input', 'context_length_exceeded');
      }
      promptTokens += ids.length;
      const h = noGrad(() => this.runner.hidden(tensor(Int32Array.from(ids), { shape: [1, ids.length], dtype: 'int32' }))); // [1, T, C]
      const pooled = h.mean(1).reshape([-1]).toFloat32Array(); // [C]
      let norm = 0;
      for (const v of pooled) norm += v * v;
      norm = Math.sqrt(norm) || 1;
      vectors.push(Array.from(pooled, (v) => v / norm));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return { vectors, promptTokens };
  }
}
