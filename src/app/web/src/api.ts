// The browser side of tessera's OpenAI-compatible API: GET /v1/models, and POST /v1/chat/completions with
// `stream: true`, read as server-sent events (`data: {chunk}\n\n` … `data: [DONE]`) from a fetch body so the
// request can be aborted (the server notices the closed connection and cancels the generation).

export type ApiContentPart =
  | { type: 'text'; text: string }
  | { type: 'image_url'; image_url: { url: string } }
  | { type: 'input_audio'; input_audio: { data: string; format: 'wav' | 'mp3' | 'ogg' } };

export interface ApiToolCall { id: string; type: 'function'; function: { name: string; arguments: string } }

export interface ApiMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string | ApiContentPart[] | null;
  tool_calls?: ApiToolCall[];
  tool_call_id?: string;
}

export interface StreamEvents {
  onText(delta: string): void;
  onToolCalls(calls: ApiToolCall[]): void;
}

export interface StreamResult {
  finishReason: string | null;
  usage: { prompt_tokens: number; completion_tokens: number } | null;
}

/** An error the server answered with (OpenAI's `{error: {message}}`), or a network failure. */
export class ApiError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = 'ApiError';
  }
}

const keyStorage = 'tessera.apiKey';

export function apiKey(): string | null {
  return localStorage.getItem(keyStorage);
}

export function setApiKey(key: string | null): void {
  if (key) localStorage.setItem(keyStorage, key);
  else localStorage.removeItem(keyStorage);
}

function headers(json: boolean): Record<string, string> {
  const h: Record<string, string> = {};
  if (json) h['content-type'] = 'application/json';
  const key = apiKey();
  if (key) h.authorization = `Bearer ${key}`;
  return h;
}

async function errorOf(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: { message?: string } | string };
    const e = body.error;
    if (typeof e === 'string') message = e;
    else if (e?.message) message = e.message;
  } catch { /* not JSON: keep the status line */ }
  return new ApiError(message, res.status);
}

export async function listModels(): Promise<string[]> {
  const res = await fetch('/v1/models', { headers: headers(false) });
  if (!res.ok) throw await errorOf(res);
  const body = (await res.json()) as { data: { id: string }[] };
  return body.data.map((m) => m.id);
}

interface Chunk {
  choices?: { delta?: { content?: string | null; tool_calls?: ApiToolCall[] }; finish_reason?: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
  error?: { message?: string };
}

/** Streams one chat completion; resolves when the stream ends, rejects with ApiError (or AbortError). */
export async function streamChat(model: string, messages: ApiMessage[], events: StreamEvents, signal: AbortSignal): Promise<StreamResult> {
  const res = await fetch('/v1/chat/completions', {
    method: 'POST', headers: headers(true), signal,
    body: JSON.stringify({ model, messages, stream: true, stream_options: { include_usage: true } }),
  });
  if (!res.ok || !res.body) throw await errorOf(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const result: StreamResult = { finishReason: null, usage: null };
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') return result;
        const chunk = JSON.parse(data) as Chunk;
        if (chunk.error) throw new ApiError(chunk.error.message ?? 'the server reported an error', 500);
        if (chunk.usage) result.usage = chunk.usage;
        for (const choice of chunk.choices ?? []) {
          if (choice.delta?.content) events.onText(choice.delta.content);
          if (choice.delta?.tool_calls?.length) events.onToolCalls(choice.delta.tool_calls);
          if (choice.finish_reason) result.finishReason = choice.finish_reason;
        }
      }
    }
  }
  if (result.finishReason === null) throw new ApiError('the stream ended before the answer was complete', 0);
  return result;
}
