// Ollama-compatible routes (docs/api.md of ollama): POST /api/chat streams NDJSON objects
// `{model, created_at, message: {role, content}, done: false}` and a final one with `done: true`,
// `done_reason` and token counts; `stream: false` answers with that final object holding the whole reply.
// Images come as a list of base64 strings on a message; `options` carries the sampling knobs. GET /api/tags
// lists the one model served.

import type { Hono } from 'hono';
import { z } from 'zod';
import type { ChatRequest, ChatResult, EngineMessage, MediaPart } from '../../infer/engine.ts';
import type { SamplingOptions } from '../../infer/sampler.ts';
import { admit, checkModel, decodeBase64, startChat, type ServeContext } from '../context.ts';
import { toApiError } from '../errors.ts';
import { eventStream, ndjsonHeaders, ndjsonLine } from '../sse.ts';

const ollamaChatRequest = z.object({
  model: z.string(),
  messages: z.array(z.object({
    role: z.enum(['system', 'user', 'assistant', 'tool']),
    content: z.string().default(''),
    images: z.array(z.string()).optional(),
    tool_calls: z.array(z.object({ function: z.object({ name: z.string(), arguments: z.record(z.string(), z.unknown()) }) })).optional(),
  })).min(1),
  stream: z.boolean().optional(),
  tools: z.array(z.object({ type: z.literal('function'), function: z.object({ name: z.string().min(1) }).loose() })).optional(),
  options: z.object({
    temperature: z.number().min(0).max(2).optional(),
    top_p: z.number().min(0).max(1).optional(),
    top_k: z.number().int().min(0).optional(),
    min_p: z.number().min(0).max(1).optional(),
    repeat_penalty: z.number().positive().optional(),
    seed: z.number().int().optional(),
    num_predict: z.number().int().optional(),
    stop: z.array(z.string().min(1)).optional(),
  }).optional(),
});

function toEngineRequest(r: z.infer<typeof ollamaChatRequest>): ChatRequest {
  const messages = r.messages.map((m, i): EngineMessage => {
    const content: string | MediaPart[] = m.images?.length
      ? [...m.images.map((b64, j): MediaPart => ({ type: 'image', data: decodeBase64(b64, `messages.${i}.images.${j}`) })), { type: 'text', text: m.content }]
      : m.content;
    const out: EngineMessage = { role: m.role, content };
    if (m.tool_calls) out.toolCalls = m.tool_calls.map((t, j) => ({ id: `call_${i}_${j}`, type: 'function', function: { name: t.function.name, arguments: JSON.stringify(t.function.arguments) } }));
    return out;
  });
  const o = r.options ?? {};
  const sampling: SamplingOptions = {};
  if (o.temperature !== undefined) sampling.temperature = o.temperature;
  if (o.top_p !== undefined) sampling.topP = o.top_p;
  if (o.top_k !== undefined) sampling.topK = o.top_k;
  if (o.min_p !== undefined) sampling.minP = o.min_p;
  if (o.repeat_penalty !== undefined) sampling.repetitionPenalty = o.repeat_penalty;
  if (o.seed !== undefined) sampling.seed = o.seed;
  const req: ChatRequest = { messages, sampling };
  if (o.num_predict !== undefined && o.num_predict > 0) req.maxTokens = o.num_predict;
  if (o.stop) req.stop = o.stop;
  if (r.tools) req.tools = r.tools;
  return req;
}

export function registerOllamaRoutes(app: Hono, ctx: ServeContext, readJson: (req: Request) => Promise<unknown>): void {
  app.get('/api/tags', (c) => c.json({
    models: [{ name: ctx.engine.modelId, model: ctx.engine.modelId, modified_at: new Date(0).toISOString(), size: 0, digest: '', details: { format: 'safetensors' } }],
  }));

  app.post('/api/chat', async (c) => {
    const body = ollamaChatRequest.parse(await readJson(c.req.raw));
    checkModel(ctx, body.model);
    const req = toEngineRequest(body);
    const model = ctx.engine.modelId;
    const started = process.hrtime.bigint();
    const final = (r: ChatResult, content: string): Record<string, unknown> => ({
      model, created_at: new Date().toISOString(),
      message: {
        role: 'assistant', content,
        ...(r.toolCalls?.length ? { tool_calls: r.toolCalls.map((t) => ({ function: { name: t.function.name, arguments: JSON.parse(t.function.arguments) as unknown } })) } : {}),
      },
      done: true, done_reason: r.finishReason === 'tool_calls' ? 'stop' : r.finishReason,
      total_duration: Number(process.hrtime.bigint() - started),
      prompt_eval_count: r.usage.promptTokens, eval_count: r.usage.completionTokens,
    });
    const job = await admit(ctx, c.req.raw.signal);
    if (body.stream === false) {
      try {
        const r = await ctx.engine.chat(req, () => {}, job.signal);
        return c.json(final(r, r.text));
      } finally {
        job.release();
      }
    }
    const deltas = await startChat(ctx.engine, req, job);
    const stream = eventStream(job.signal, async (write, signal) => {
      try {
        let next = await deltas.next();
        while (!next.done) {
          write(ndjsonLine({ model, created_at: new Date().toISOString(), message: { role: 'assistant', content: next.value }, done: false }));
          next = await deltas.next();
        }
        write(ndjsonLine(final(next.value, '')));
      } catch (e) {
        if (!signal.aborted) write(ndjsonLine({ error: toApiError(e).message }));
      } finally {
        job.release();
      }
    });
    return new Response(stream, { status: 200, headers: ndjsonHeaders });
  });
}
