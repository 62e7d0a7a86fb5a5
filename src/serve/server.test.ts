// The server over real sockets on 127.0.0.1, driven by the official `openai` client, behind a real tiny Qwen2
// checkpoint (random weights: gibberish text) and a scripted one (weights set so it answers with a tool call).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import sharp from 'sharp';
import { ChatAbortedError, createEngine, type ChatEngine } from '../infer/engine.ts';
import { writeTinyCheckpoint } from '../infer/tiny-checkpoint.ts';
import { encodeWav } from '../data/audio/wav.ts';
import { startServer, type RunningServer } from './server.ts';

const root = mkdtempSync(join(tmpdir(), 'tessera-serve-'));
const toolJson = '\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n';
let engine: ChatEngine, main: RunningServer, tools: RunningServer, client: OpenAI, toolClient: OpenAI;
const aborted: Error[] = [];
const messages = [{ role: 'user' as const, content: 'Tell me about the weather.' }];

before(async () => {
  writeTinyCheckpoint(join(root, 'tiny'), { seed: 5 });
  writeTinyCheckpoint(join(root, 'scripted'), { seed: 2, script: ['<tool_call>', toolJson, '</tool_call>'] });
  const real = await createEngine(join(root, 'tiny'), { maxImagePixels: 32 * 32, maxAudioSeconds: 0.5 });
  // the same engine, recording the cancellations it sees (to prove a closed client stops generation)
  engine = {
    modelId: real.modelId, limits: real.limits, embed: (t) => real.embed(t),
    chat: (req, onDelta, signal) => real.chat(req, onDelta, signal).catch((e: Error) => { if (e instanceof ChatAbortedError) aborted.push(e); throw e; }),
  };
  main = await startServer({ engine, port: 0, apiKey: 'sk-test', maxWaiting: 1, maxBodyBytes: 256 * 1024 });
  tools = await startServer({ engine: await createEngine(join(root, 'scripted')), port: 0 });
  client = new OpenAI({ baseURL: `${main.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
  toolClient = new OpenAI({ baseURL: `${tools.url}/v1`, apiKey: 'none', maxRetries: 0 });
});

after(async () => {
  await main.close();
  await tools.close();
  rmSync(root, { recursive: true, force: true });
});

test('chat: non-streamed and streamed greedy replies agree; include_usage adds the usage chunk', async () => {
  const r = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 12, temperature: 0 });
  const choice = r.choices[0]!;
  assert.equal(typeof choice.message.content, 'string');
  assert.ok(['stop', 'length'].includes(choice.finish_reason));
  assert.ok(r.usage!.prompt_tokens > 10 && r.usage!.completion_tokens > 0 && r.usage!.completion_tokens <= 12);
  const stream = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true } });
  let text = '', usage = null, finish = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) { text += c.delta.content ?? ''; finish = c.finish_reason ?? finish; }
  }
  assert.equal(text, choice.message.content);
  assert.equal(finish, choice.finish_reason);
  assert.deepEqual(usage, r.usage);
  const sampled = async (): Promise<string | null> =>
    (await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 8, temperature: 1, seed: 42 })).choices[0]!.message.content;
  assert.equal(await sampled(), await sampled());
});

test('embeddings: unit-length vectors, equal for equal inputs', async () => {
  const r = await client.embeddings.create({ model: 'tiny', input: ['hello world', 'something else', 'hello world'] });
  assert.equal(r.data.length, 3);
  const [a, b, c] = r.data.map((d) => d.embedding);
  assert.equal(a!.length, 64);
  assert.ok(Math.abs(Math.hypot(...a!) - 1) < 1e-5);
  assert.deepEqual(a, c);
  assert.notDeepEqual(a, b);
  const f = await client.embeddings.create({ model: 'tiny', input: 'hello world', encoding_format: 'float' });
  assert.ok(f.data[0]!.embedding.every((v, i) => Math.abs(v - a![i]!) < 1e-6));
});

test('errors surface as the client\'s typed errors', async () => {
  const bad = new OpenAI({ baseURL: `${main.url}/v1`, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  await assert.rejects(client.chat.completions.create({ model: 'gpt-9', messages }), (e) => e instanceof OpenAI.NotFoundError && /gpt-9/.test(e.message));
  await assert.rejects(client.chat.completions.create({ model: 'tiny', messages, temperature: 5 }),
    (e) => e instanceof OpenAI.BadRequestError && (e.error as { param?: string }).param === 'temperature');
  await assert.rejects(client.chat.completions.create({ model: 'tiny', messages: [] }), OpenAI.BadRequestError);
  const headers = { authorization: 'Bearer sk-test', 'content-type': 'application/json' };
  const notFound = await fetch(`${main.url}/v1/nothing`, { headers });
  assert.equal(notFound.status, 404);
  assert.equal(((await notFound.json()) as { error: { code: string } }).error.code, 'unknown_route');
  const big = await fetch(`${main.url}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'x'.repeat(300_000) }] }) });
  assert.equal(big.status, 413);
  const notJson = await fetch(`${main.url}/v1/chat/completions`, { method: 'POST', headers, body: '{oops' });
  assert.equal(notJson.status, 400);
});

test('a full queue answers 429 (one running, one waiting)', async () => {
  const long = { model: 'tiny', messages, max_tokens: 60, temperature: 0 } as const;
  const results = await Promise.allSettled([1, 2, 3, 4].map(() => client.chat.completions.create(long)));
  const limited = results.filter((r) => r.status === 'rejected' && r.reason instanceof OpenAI.RateLimitError);
  const ok = results.filter((r) => r.status === 'fulfilled');
  for (const r of results) if (r.status === 'rejected' && !(r.reason instanceof OpenAI.RateLimitError)) throw r.reason;
  assert.equal(ok.length, 2);
  assert.equal(limited.length, 2);
});

test('media: images and audio are decoded and checked against the limits', async () => {
  const png = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#f00' } }).png().toBuffer();
  const huge = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#0f0' } }).png().toBuffer();
  const withImage = (b: Buffer) => client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: [
    { type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${b.toString('base64')}` } }] }] });
  await assert.rejects(withImage(png), (e) => e instanceof OpenAI.BadRequestError && /takes no image input \(16x16/.test(e.message));
  await assert.rejects(withImage(huge), (e) => e instanceof OpenAI.BadRequestError && /1024 pixels/.test(e.message));
  const wav = Buffer.from(encodeWav(new Float32Array(16000), 16000)).toString('base64');
  await assert.rejects(client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: wav, format: 'wav' } }] }] }),
    (e) => e instanceof OpenAI.BadRequestError && /limit/.test(e.message));
  await assert.rejects(withImage(Buffer.from('not an image')), OpenAI.BadRequestError);
});

test('closing the client mid-stream cancels the generation', async () => {
  const before = aborted.length;
  const ac = new AbortController();
  const stream = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 400, temperature: 0, stream: true }, { signal: ac.signal });
  let chunks = 0;
  try { for await (const _ of stream) if (++chunks === 3) ac.abort(); } catch { /* the client's own abort */ }
  await main.queue.idle();
  assert.equal(aborted.length, before + 1);
});

test('tools: the scripted model\'s <tool_call> becomes tool_calls (plain and streamed); tool_choice none keeps text', async () => {
  const weatherTool = { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
  const r = await toolClient.chat.completions.create({ model: 'scripted', messages, tools: [weatherTool] });
  const choice = r.choices[0]!;
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.content, null);
  const call = choice.message.tool_calls![0]!;
  assert.equal(call.type, 'function');
  assert.ok(call.type === 'function' && call.function.name === 'get_weather');
  assert.deepEqual(call.type === 'function' ? JSON.parse(call.function.arguments) : null, { city: 'Paris' });

  const stream = await toolClient.chat.completions.create({ model: 'scripted', messages, tools: [weatherTool], stream: true });
  let content = '', finish = null;
  const names: string[] = [];
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      content += c.delta.content ?? '';
      for (const t of c.delta.tool_calls ?? []) if (t.function?.name) names.push(t.function.name);
      finish = c.finish_reason ?? finish;
    }
  }
  assert.equal(content, '');
  assert.deepEqual(names, ['get_weather']);
  assert.equal(finish, 'tool_calls');

  const none = await toolClient.chat.completions.create({ model: 'scripted', messages, tools: [weatherTool], tool_choice: 'none' });
  assert.equal(none.choices[0]!.finish_reason, 'stop');
  assert.equal(none.choices[0]!.message.content, `<tool_call>${toolJson}</tool_call>`);
});

test('ollama: /api/chat streams NDJSON by default, stream:false answers once, /api/tags lists the model', async () => {
  const headers = { authorization: 'Bearer sk-test', 'content-type': 'application/json' };
  const body = { model: 'tiny', messages, options: { temperature: 0, num_predict: 12 } };
  const res = await fetch(`${main.url}/api/chat`, { method: 'POST', headers, body: JSON.stringify(body) });
  assert.match(res.headers.get('content-type') ?? '', /ndjson/);
  const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as { message: { content: string }; done: boolean; eval_count?: number });
  const last = lines.at(-1)!;
  assert.equal(last.done, true);
  assert.ok(lines.slice(0, -1).every((l) => !l.done));
  const streamed = lines.map((l) => l.message.content).join('');
  const once = await fetch(`${main.url}/api/chat`, { method: 'POST', headers, body: JSON.stringify({ ...body, stream: false }) });
  const whole = (await once.json()) as { message: { content: string }; done: boolean; eval_count: number };
  assert.equal(whole.message.content, streamed);
  assert.equal(whole.eval_count, last.eval_count);
  const openai = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 12, temperature: 0 });
  assert.equal(streamed, openai.choices[0]!.message.content);
  const tags = (await (await fetch(`${main.url}/api/tags`, { headers })).json()) as { models: { name: string }[] };
  assert.deepEqual(tags.models.map((m) => m.name), ['tiny']);
  const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#00f' } }).png().toBuffer();
  const img = await fetch(`${main.url}/api/chat`, { method: 'POST', headers, body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'hi', images: [png.toString('base64')] }] }) });
  assert.equal(img.status, 400);
  assert.match(((await img.json()) as { error: string }).error, /no image input/);
});

test('graceful shutdown: a running stream is cancelled after the grace period and close resolves', async () => {
  const s = await startServer({ engine, port: 0, graceMs: 20 });
  const c = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'x', maxRetries: 0 });
  const stream = await c.chat.completions.create({ model: 'tiny', messages, max_tokens: 2000, temperature: 0, stream: true });
  const it = stream[Symbol.asyncIterator]();
  await it.next();
  const closed = s.close();
  let rest = 0;
  try { while (!(await it.next()).done) rest++; } catch { /* the server ended the stream */ }
  await closed;
  assert.ok(rest < 2000);
  await assert.rejects(fetch(`${s.url}/v1/models`));
});
