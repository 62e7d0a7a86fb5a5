// End to end: the real HTTP server (the API app of src/serve with the web chat of src/serve/static.ts in front)
// over a tiny random tessera checkpoint (what `tessera init-tessera` writes), driven by Debian's chromium through
// playwright-core: upload an image, ask a question, wait for the streamed answer to finish, and check that the
// answer is there, the image is shown in the message, the conversation survives a reload, and the stop button
// ends a running answer; and a microphone recording (chromium's fake capture device, permission granted) becomes a
// 16 kHz WAV attachment that is sent and answered. Screenshots go to test/e2e/screenshots/ (ignored by git).
// The web app is built first when its build is missing or older than its sources (vite, about a second).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ensureWebBuilt } from '../../src/app/web/build.ts';
import { decodeWav } from '../../src/data/audio/wav.ts';
import { createEngine, type ChatEngine } from '../../src/infer/engine.ts';
import { saveTessera } from '../../src/models/tessera/checkpoint.ts';
import { tinyTessera } from '../../src/models/tessera/tiny.ts';
import { createApp } from '../../src/serve/app.ts';
import { WorkQueue } from '../../src/serve/queue.ts';
import { withWebApp } from '../../src/serve/static.ts';
import { repoRoot } from '../../src/util/paths.ts';

const chromiumPath = '/usr/bin/chromium';
const skip = existsSync(chromiumPath) ? false : `${chromiumPath} is not installed (apt-get install chromium)`;
const shots = join(repoRoot, 'test/e2e/screenshots');

let root = '', url = '', server: ServerType | null = null, browser: BrowserContext | null = null;
/** Reply length of the test server (the stop test raises it). */
let maxTokens = 12;

/**
 * The random model's answers are gibberish of random length; a bias against its end-of-turn token makes
 * every answer run to max_tokens, so "the answer is not empty" and "stop ends a running answer" are certain.
 */
function longWinded(engine: ChatEngine, eos: number): ChatEngine {
  return {
    modelId: engine.modelId, limits: engine.limits, embed: (t) => engine.embed(t),
    chat: (req, onDelta, signal) => engine.chat({ ...req, maxTokens, sampling: { ...req.sampling, logitBias: new Map([[eos, -100]]) } }, onDelta, signal),
  };
}

before(async () => {
  if (skip) return;
  await ensureWebBuilt({ quiet: true });
  root = mkdtempSync(join(tmpdir(), 'tessera-e2e-'));
  const tiny = tinyTessera(7);
  saveTessera(join(root, 'tiny-tessera'), tiny.model, tiny.processor);
  const engine = longWinded(await createEngine(join(root, 'tiny-tessera')), tiny.processor.eosTokenId);
  const app = withWebApp(createApp({ engine, queue: new WorkQueue(4), shutdown: new AbortController().signal }));
  const info = await new Promise<AddressInfo>((resolve) => { server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, resolve); });
  url = `http://127.0.0.1:${info.port}`;
  // A fresh profile in the temp folder: no earlier conversations in localStorage.
  browser = await chromium.launchPersistentContext(join(root, 'profile'), {
    executablePath: chromiumPath, headless: true, viewport: { width: 1200, height: 800 }, permissions: ['microphone'],
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
      // a fake microphone (a beep every second) and no permission prompt, so recording works headless
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
  });
});

after(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  if (root) rmSync(root, { recursive: true, force: true });
});

async function openPage(): Promise<Page> {
  const page = await browser!.newPage();
  page.on('pageerror', (e) => { throw new Error(`page error: ${e.message}`); });
  await page.goto(url);
  await page.waitForFunction(() => (document.querySelector('#model') as HTMLSelectElement | null)?.options.length === 1);
  return page;
}

test('web chat: upload an image, ask, and read the streamed answer', { skip }, async () => {
  const page = await openPage();
  assert.equal(await page.locator('#model').inputValue(), 'tiny-tessera');
  const png = join(root, 'shapes.png');
  writeFileSync(png, await sharp({ create: { width: 96, height: 64, channels: 3, background: '#2563eb' } })
    .composite([{ input: Buffer.from('<svg width="96" height="64"><circle cx="30" cy="32" r="18" fill="#ef4444"/><rect x="58" y="16" width="28" height="32" fill="#facc15"/></svg>') }])
    .png().toBuffer());
  await page.setInputFiles('#image-input', png);
  await page.locator('#attachments .attachment img').waitFor();
  await page.fill('#input', 'What color is the circle?');
  await page.click('#send');
  const answer = page.locator('.message.assistant .bubble').last();
  await page.locator('.message.assistant .bubble[data-state="done"]').waitFor({ timeout: 60_000 });
  const text = (await answer.locator('.content').textContent()) ?? '';
  assert.ok(text.trim().length > 0, 'the streamed answer is not empty');
  assert.match((await answer.locator('.usage').textContent()) ?? '', /\d+ prompt · 12 completion tokens/);
  const shown = page.locator('.message.user img.image');
  assert.equal(await shown.count(), 1);
  assert.ok(await shown.evaluate((img) => (img as HTMLImageElement).naturalWidth === 96), 'the uploaded image is displayed');
  assert.equal(await page.locator('.message.user .content').textContent(), 'What color is the circle?');
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, 'answer.png') });
  // The conversation is kept in localStorage: it is there after a reload, image included.
  await page.reload();
  await page.locator('.message.assistant .bubble[data-state="done"]').waitFor();
  assert.equal(await page.locator('#conversations .conversation').count(), 1);
  assert.equal(await page.locator('.message.user img.image').count(), 1);
  assert.equal((await page.locator('.message.assistant .content').textContent())?.trim(), text.trim());
  await page.close();
});

test('web chat: the stop button ends a running answer', { skip }, async () => {
  maxTokens = 100_000;
  try {
    const page = await openPage();
    await page.click('#new-chat');
    await page.fill('#input', 'Describe the image.');
    await page.click('#send');
    await page.locator('#stop').waitFor({ state: 'visible' });
    await page.waitForFunction(() => (document.querySelector('.message.assistant .content')?.textContent ?? '').length > 20);
    await page.click('#stop');
    await page.locator('.message.assistant .bubble[data-state="stopped"]').waitFor({ timeout: 10_000 });
    assert.ok(await page.locator('#send').isVisible());
    await page.screenshot({ path: join(shots, 'stopped.png') });
    await page.close();
  } finally {
    maxTokens = 12;
  }
});

test('web chat: record from the microphone, send the recording, and read the answer', { skip }, async () => {
  const page = await openPage();
  await page.click('#new-chat');
  assert.ok(await page.locator('#record').isVisible(), 'the microphone button is shown where the browser can record');
  await page.click('#record');
  await page.locator('#record.recording').waitFor();
  await page.waitForTimeout(1500); // record about 1.5 s of the fake device's beeps
  await page.click('#record');
  const chip = page.locator('#attachments .attachment.audio');
  await chip.waitFor();
  const seconds = Number(/· ([\d.]+) s/.exec((await chip.textContent()) ?? '')?.[1]);
  assert.ok(seconds >= 0.5 && seconds <= 10, `the recording lasts ${seconds} s`);
  await page.fill('#input', 'How many beeps are there?');
  await page.click('#send');
  await page.locator('.message.assistant .bubble[data-state="done"]').waitFor({ timeout: 60_000 });
  assert.match((await page.locator('.message.assistant .usage').textContent()) ?? '', /\d+ prompt · 12 completion tokens/);
  // what was sent: a 16 kHz mono WAV that is not silence
  const src = (await page.locator('.message.user figure.audio audio').getAttribute('src')) ?? '';
  assert.match(src, /^data:audio\/(wav|x-wav);base64,/);
  const wav = decodeWav(Buffer.from(src.slice(src.indexOf(',') + 1), 'base64'));
  assert.equal(wav.sampleRate, 16000);
  assert.ok(Math.abs(wav.samples.length / 16000 - seconds) < 0.15, `${wav.samples.length} samples for a ${seconds} s recording`);
  const peak = wav.samples.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assert.ok(peak > 0.01, `the recording is silent (peak ${peak})`);
  await page.screenshot({ path: join(shots, 'recording.png') });
  await page.close();
});
