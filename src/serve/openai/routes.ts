// OpenAI-compatible routes: POST /v1/chat/completions (JSON or SSE stream), GET /v1/models,
// POST /v1/embeddings. Response shapes follow the OpenAI API reference (chat.completion,
// chat.completion.chunk with `delta`s, a final `data: [DONE]`, the usage chunk of stream_options.include_usage).

import { randomBytes } from 'node:crypto';
import type { Hono } from 'hono';
import type { ChatResult, Usage } from '../../infer/engine.ts';
import { admit, checkModel, startChat, type ServeContext } from '../context.ts';
import { errorBody, toApiError } from '../errors.ts';
import { eventStream, sseData, sseHeaders } from '../sse.ts';
import { chatCompletionRequest, embeddingsRequest, toEngineRequest } from './schema.ts';

const openaiUsage = (u: Usage): { prompt_tokens: number; completion_tokens: number; total_tokens: number } =>
  ({ prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.totalTokens });

const toolCallsOut = (r: ChatResult): { tool_calls?: NonNullable<ChatResult['toolCalls']> } => (r.toolCalls?.length ? { tool_calls: r.toolCalls } : {});

export function registerOpenAiRoutes(app: Hono, ctx: ServeContext, readJson: (req: Request) => Promise<unknown>): void {
  app.get('/v1/models', (c) => c.json({
    object: 'list',
    data: [{ id: ctx.engine.modelId, object: 'model', created: 0, owned_by: 'tessera' }],
  }));

  app.get('/v1/models/:id', (c) => {
    checkModel(ctx, c.req.param('id'));
    return c.json({ id: ctx.engine.modelId, object: 'model', created: 0, owned_by: 'tessera' });
  });

  app.post('/v1/chat/completions', async (c) => {
    const body = chatCompletionRequest.parse(await readJson(c.req.raw));
    checkModel(ctx, body.model);
    const req = toEngineRequest(body);
    const id = `chatcmpl-${randomBytes(12).toString('hex')}`;
    const created = Math.floor(Date.now() / 1000);
    const model = ctx.engine.modelId;
    const job = await admit(ctx, c.req.raw.signal);

    if (!body.stream) {
      try {
        const r = await ctx.engine.chat(req, () => {}, job.signal);
        return c.json({
          id, object: 'chat.completion', created, model,
          choices: [{ index: 0, message: { role: 'assistant', content: r.toolCalls?.length && !r.text ? null : r.text, ...toolCallsOut(r) }, finish_reason: r.finishReason, logprobs: null }],
          usage: openaiUsage(r.usage),
        });
      } finally {
        job.release();
      }
    }

    const includeUsage = body.stream_options?.include_usage === true;
    const chunk = (delta: Record<string, unknown>, finishReason: string | null): Record<string, unknown> => ({
      id, object: 'chat.completion.chunk', created, model,
      choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
      ...(includeUsage ? { usage: null } : {}),
    });
    const deltas = await startChat(ctx.engine, req, job);
    const stream = eventStream(job.signal, async (write, signal) => {
      try {
        write(sseData(chunk({ role: 'assistant', content: '' }, null)));
        let next = await deltas.next();
        while (!next.done) {
          write(sseData(chunk({ content: next.value }, null)));
          next = await deltas.next();
        }
        const r = next.value;
        if (r.toolCalls?.length) {
          write(sseData(chunk({ tool_calls: r.toolCalls.map((t, index) => ({ index, ...t })) }, null)));
        }
        write(sseData(chunk({}, r.finishReason)));
        if (includeUsage) write(sseData({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: openaiUsage(r.usage) }));
        write(sseData('[DONE]'));
      } catch (e) {
        if (!signal.aborted) write(sseData(errorBody(toApiError(e))));
      } finally {
        job.release();
      }
    });
    return new Response(stream, { status: 200, headers: sseHeaders });
  });

  app.post('/v1/embeddings', async (c) => {
    const body = embeddingsRequest.parse(await readJson(c.req.raw));
    checkModel(ctx, body.model);
    const texts = typeof body.input === 'string' ? [body.input] : body.input;
    const job = await admit(ctx, c.req.raw.signal);
    let r;
    try {
      r = await ctx.engine.embed(texts);
    } finally {
      job.release();
    }
    const base64 = body.encoding_format === 'base64';
    return c.json({
      object: 'list',
      data: r.vectors.map((v, index) => ({
        object: 'embedding', index,
        embedding: base64 ? Buffer.from(Float32Array.from(v).buffer).toString('base64') : v,
      })),
      model: ctx.engine.modelId,
      usage: { prompt_tokens: r.promptTokens, total_tokens: r.promptTokens },
    });
  });
}
