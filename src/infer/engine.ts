// The chat engine behind the server: one loaded checkpoint, its tokenizer and chat template, turning an
// OpenAI-shaped conversation into a streamed reply (generate.ts), tool calls (tool-calls.ts) and embeddings.
// The template is the checkpoint's own (tokenizer_config.json `chat_template`, or chat_template.jinja), else
// tessera's ChatML (src/data/tokenizer/chatml.ts). Embeddings are the mean of the decoder's final hidden
// states over the text's tokens, L2-normalised (as sentence-transformers' mean pooling + Normalize).
// Bad input (too many pixels, too long audio, prompt over the context, media the model cannot take) is a
// ChatInputError, which the server answers with 400.
//
// Shapes: T tokens, C hidden.

import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Tokenizer } from '../data/tokenizer/tokenizer.ts';
import { chatmlTemplate } from '../data/tokenizer/chatml.ts';
import { decodeImage } from '../models/vision/preprocess/decode.ts';
import { loadAudio } from '../data/audio/load.ts';
import { loadModel, readConfig } from '../models/registry.ts';
import { CausalLM } from '../models/llm/decoder.ts';
import { parseLlmConfig } from '../models/llm/config.ts';
import { openCheckpoint } from '../io/checkpoint.ts';
import { noGrad, tensor } from '../tensor/index.ts';
import { renderChat, type ChatMessage } from './chat-template.ts';
import { generateText } from './generate.ts';
import { Sampler, type SamplingOptions } from './sampler.ts';
import { ToolCallHoldback, type ToolCall } from './tool-calls.ts';

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

async function openCausalLm(dir: string): Promise<CausalLM> {
  const config = readConfig(dir);
  try {
    const loaded = await loadModel(dir);
    if (loaded.module instanceof CausalLM) return loaded.module;
    throw new Error(`${dir}: model_type "${loaded.modelType}" is not a text decoder the chat engine can run yet`);
  } catch (e) {
    // The registry may not know llama/qwen2 yet; their weights map onto CausalLM by name, so load directly.
    if (!/unknown model_type/.test((e as Error).message) || !['llama', 'qwen2'].includes(String(config.model_type))) throw e;
  }
  const model = new CausalLM(parseLlmConfig(config, join(dir, 'config.json')));
  const ckpt = openCheckpoint(dir);
  try {
    model.loadStateDict(new Map(ckpt.keys().map((k) => [k, ckpt.read(k)])), { source: dir });
  } finally {
    ckpt.close();
  }
  return model;
}

function chatTemplateOf(dir: string, tok: Tokenizer): string {
  if (tok.chatTemplate) return tok.chatTemplate;
  const jinja = join(dir, 'chat_template.jinja');
  return existsSync(jinja) ? readFileSync(jinja, 'utf8') : chatmlTemplate;
}

/** Loads a checkpoint folder (config.json, weights, tokenizer.json) as a ChatEngine. */
export async function createEngine(modelDir: string, opts: EngineOptions = {}): Promise<ChatEngine> {
  const model = await openCausalLm(modelDir);
  const tokenizer = Tokenizer.fromFile(modelDir);
  return new TesseraEngine(model, tokenizer, chatTemplateOf(modelDir, tokenizer), {
    modelId: opts.modelId ?? basename(modelDir),
    maxImagePixels: opts.maxImagePixels ?? 4096 * 4096,
    maxAudioSeconds: opts.maxAudioSeconds ?? 30,
    defaultMaxTokens: opts.defaultMaxTokens ?? 256,
  });
}

class TesseraEngine implements ChatEngine {
  readonly modelId: string;
  readonly limits: EngineLimits;
  private readonly eosIds: number[];

  constructor(private readonly model: CausalLM, private readonly tokenizer: Tokenizer, private readonly template: string,
    private readonly opts: Required<EngineOptions>) {
    this.modelId = opts.modelId;
    this.limits = Object.freeze({ maxImagePixels: opts.maxImagePixels, maxAudioSeconds: opts.maxAudioSeconds, contextLength: model.cfg.maxPositions });
    const eos = new Set<number>();
    if (tokenizer.specialIds.eos !== undefined) eos.add(tokenizer.specialIds.eos);
    if (model.cfg.eosTokenId !== null) eos.add(model.cfg.eosTokenId);
    this.eosIds = [...eos];
  }

  /** Decodes and checks every media part; the text decoder takes none, so any is refused after the checks. */
  private async checkMedia(messages: readonly EngineMessage[]): Promise<void> {
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
          throw new ChatInputError(`${param}: model ${this.modelId} takes no image input (${img.width}x${img.height} image given)`, param, 'unsupported_media');
        }
        if (part.type === 'audio') {
          let audio;
          try {
            audio = await loadAudio(part.data, 16000, { maxSeconds: this.limits.maxAudioSeconds });
          } catch (e) {
            throw new ChatInputError(`${param}: ${(e as Error).message}`, param, 'invalid_audio');
          }
          const seconds = audio.samples.length / audio.sampleRate;
          if (seconds > this.limits.maxAudioSeconds) {
            throw new ChatInputError(`${param}: audio is ${seconds.toFixed(1)} s, over the limit of ${this.limits.maxAudioSeconds} s`, param, 'audio_too_long');
          }
          throw new ChatInputError(`${param}: model ${this.modelId} takes no audio input`, param, 'unsupported_media');
        }
      }
    }
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
    return renderChat(this.template, messages, {
      addGenerationPrompt: true,
      ...(tools && tools.length ? { tools: [...tools] } : {}),
      ...(this.tokenizer.bosToken ? { bosToken: this.tokenizer.bosToken } : {}),
      ...(this.tokenizer.eosToken ? { eosToken: this.tokenizer.eosToken } : {}),
    });
  }

  async chat(req: ChatRequest, onDelta: (text: string) => void, signal?: AbortSignal): Promise<ChatResult> {
    if (req.messages.length === 0) throw new ChatInputError('messages must not be empty', 'messages');
    await this.checkMedia(req.messages);
    const useTools = !!req.tools?.length && req.toolChoice !== 'none';
    let promptText: string;
    try {
      promptText = this.render(req, useTools);
    } catch (e) {
      throw new ChatInputError((e as Error).message, 'messages');
    }
    const prompt = this.tokenizer.encode(promptText, { addSpecialTokens: false }).ids;
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
    const gen = generateText(this.model, this.tokenizer, {
      prompt, sampler, maxTokens, eosIds: this.eosIds, stopStrings: req.stop ?? [], ...(signal ? { signal } : {}),
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
      const ids = this.tokenizer.encode(text, { addSpecialTokens: false }).ids;
      if (ids.length === 0) throw new ChatInputError(`input[${i}] is empty`, 'input');
      if (ids.length > this.limits.contextLength) {
        throw new ChatInputError(`input[${i}] is ${ids.length} tokens; the context is ${this.limits.contextLength}`, 'input', 'context_length_exceeded');
      }
      promptTokens += ids.length;
      const h = noGrad(() => this.model.model.forward({ inputIds: tensor(Int32Array.from(ids), { shape: [1, ids.length], dtype: 'int32' }) }).lastHiddenState);
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
