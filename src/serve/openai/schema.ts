// zod schemas of the OpenAI requests tessera serves (chat completions, embeddings), and their translation
// into the engine's request. Unknown fields are dropped (clients send many we do not use); known fields are
// checked, so a bad value is a 400 naming the field.

import { z } from 'zod';
import type { ChatRequest, EngineMessage, MediaPart, ToolChoice } from '../../infer/engine.ts';
import type { SamplingOptions } from '../../infer/sampler.ts';
import { decodeBase64, decodeDataUrl } from '../context.ts';

const contentPart = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: z.string() }),
  z.object({ type: z.literal('image_url'), image_url: z.object({ url: z.string(), detail: z.string().optional() }) }),
  z.object({ type: z.literal('input_audio'), input_audio: z.object({ data: z.string(), format: z.enum(['wav', 'mp3', 'ogg']) }) }),
]);

const toolCall = z.object({
  id: z.string(),
  type: z.literal('function'),
  function: z.object({ name: z.string(), arguments: z.string() }),
});

const message = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([z.string(), z.array(contentPart)]).nullable().optional(),
  tool_calls: z.array(toolCall).optional(),
  tool_call_id: z.string().optional(),
  name: z.string().optional(),
});

const tool = z.object({
  type: z.literal('function'),
  function: z.object({ name: z.string().min(1), description: z.string().optional(), parameters: z.record(z.string(), z.unknown()).optional(), strict: z.boolean().nullable().optional() }),
});

export const chatCompletionRequest = z.object({
  model: z.string(),
  messages: z.array(message).min(1),
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
  max_tokens: z.number().int().positive().nullable().optional(),
  max_completion_tokens: z.number().int().positive().nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  top_k: z.number().int().min(0).optional(),
  min_p: z.number().min(0).max(1).optional(),
  repetition_penalty: z.number().positive().optional(),
  seed: z.number().int().nullable().optional(),
  stop: z.union([z.string(), z.array(z.string().min(1)).max(4)]).nullable().optional(),
  logit_bias: z.record(z.string().regex(/^\d+$/, 'keys must be token ids'), z.number().min(-100).max(100)).nullable().optional(),
  n: z.literal(1).nullable().optional(),
  tools: z.array(tool).optional(),
  tool_choice: z.union([
    z.enum(['none', 'auto', 'required']),
    z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) }),
  ]).optional(),
});
export type ChatCompletionRequest = z.infer<typeof chatCompletionRequest>;

export const embeddingsRequest = z.object({
  model: z.string(),
  input: z.union([z.string(), z.array(z.string()).min(1).max(64)]),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.number().int().positive().optional(),
});

function toMessage(m: z.infer<typeof message>, i: number): EngineMessage {
  const role = m.role === 'developer' ? 'system' : m.role;
  let content: EngineMessage['content'] = typeof m.content === 'string' ? m.content : null;
  if (Array.isArray(m.content)) {
    content = m.content.map((p, j): MediaPart => {
      const param = `messages.${i}.content.${j}`;
      if (p.type === 'text') return p;
      if (p.type === 'image_url') return { type: 'image', data: decodeDataUrl(p.image_url.url, `${param}.image_url.url`) };
      return { type: 'audio', data: decodeBase64(p.input_audio.data, `${param}.input_audio.data`), format: p.input_audio.format };
    });
  }
  const out: EngineMessage = { role, content };
  if (m.tool_calls) out.toolCalls = m.tool_calls;
  if (m.tool_call_id) out.toolCallId = m.tool_call_id;
  return out;
}

export function toEngineRequest(r: ChatCompletionRequest): ChatRequest {
  const sampling: SamplingOptions = {};
  if (r.temperature != null) sampling.temperature = r.temperature;
  if (r.top_p != null) sampling.topP = r.top_p;
  if (r.top_k !== undefined) sampling.topK = r.top_k;
  if (r.min_p !== undefined) sampling.minP = r.min_p;
  if (r.repetition_penalty !== undefined) sampling.repetitionPenalty = r.repetition_penalty;
  if (r.seed != null) sampling.seed = r.seed;
  if (r.logit_bias) sampling.logitBias = new Map(Object.entries(r.logit_bias).map(([k, v]) => [Number(k), v]));
  const req: ChatRequest = { messages: r.messages.map(toMessage), sampling };
  const maxTokens = r.max_completion_tokens ?? r.max_tokens;
  if (maxTokens != null) req.maxTokens = maxTokens;
  if (r.stop != null) req.stop = typeof r.stop === 'string' ? [r.stop] : r.stop;
  if (r.tools) req.tools = r.tools;
  if (r.tool_choice !== undefined) {
    const c = r.tool_choice;
    req.toolChoice = (typeof c === 'string' ? c : { name: c.function.name }) satisfies ToolChoice;
  }
  return req;
}
