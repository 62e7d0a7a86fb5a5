// `tessera chat` as a user runs it (node bin/tessera.mjs chat …) on a tiny random tessera checkpoint: the one-shot
// answer with an image and an audio file equals what the ChatEngine answers in-process for the same request
// (greedy), and the interactive mode driven through stdin attaches media with /image, reports a missing file
// and carries on, forgets the conversation on /reset (the next prompt is as long as a fresh one) and quits on /exit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { encodeWav } from '../../../data/audio/wav.ts';
import { createEngine, type ChatEngine, type EngineMessage } from '../../../infer/engine.ts';
import { saveTessera } from '../../../models/tessera/checkpoint.ts';
import { tinyTessera } from '../../../models/tessera/tiny.ts';
import { repoRoot } from '../../../util/paths.ts';

let root = '', model = '', png = '', wav = '';
let engine: ChatEngine;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'tessera-chat-'));
  model = join(root, 'model');
  const t = tinyTessera(11);
  saveTessera(model, t.model, t.processor);
  png = join(root, 'red.png');
  await sharp({ create: { width: 20, height: 20, channels: 3, background: '#f00' } }).png().toFile(png);
  wav = join(root, 'tone.wav');
  writeFileSync(wav, encodeWav(Float32Array.from({ length: 12000 }, (_, i) => 0.3 * Math.sin(i / 5)), 16000));
  engine = await createEngine(model);
});
after(() => rmSync(root, { recursive: true, force: true }));

const cli = (args: string[], input?: string) => spawnSync(process.execPath, [join(repoRoot, 'bin/tessera.mjs'), 'chat', '--model', model, ...args],
  { encoding: 'utf8', cwd: repoRoot, timeout: 60_000, ...(input !== undefined ? { input } : {}) });

const greedy = async (messages: EngineMessage[], maxTokens: number) =>
  engine.chat({ messages, maxTokens, sampling: { temperature: 0 } }, () => {});

test('one-shot: the streamed answer equals the engine’s for the same image + audio prompt', async () => {
  const r = cli(['--image', png, '--audio', wav, '--max-tokens', '6', '--temperature', '0', '--verbose', 'What color is the circle?']);
  assert.equal(r.status, 0, r.stderr);
  const ref = await greedy([{ role: 'user', content: [
    { type: 'image', data: readFileSync(png) }, { type: 'audio', data: readFileSync(wav), format: 'wav' }, { type: 'text', text: 'What color is the circle?' }] }], 6);
  assert.ok(ref.usage.completionTokens > 0);
  assert.equal(r.stdout, `${ref.text}\n`);
  assert.match(r.stderr, new RegExp(`\\[${ref.usage.promptTokens} prompt tokens, ${ref.usage.completionTokens} completion tokens`));
});

test('one-shot: a missing file and a bad flag are clear errors with exit code 1', () => {
  const missing = cli(['--image', join(root, 'nope.png'), 'hi']);
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /^tessera chat: image .*nope\.png: cannot read it: ENOENT\n$/);
  const bad = cli(['--temperature', 'hot', 'hi']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /^tessera chat: --temperature must be a number in \[0, 100\], got "hot"\n$/);
});

test('interactive: /image, a missing file, /reset and /exit through stdin', async () => {
  const lines = [`/image ${png}`, 'What is this?', `/image ${join(root, 'gone.png')}`, '/reset', 'hello', '/exit', 'never asked'];
  const r = cli(['--max-tokens', '4', '--temperature', '0', '--verbose'], `${lines.join('\n')}\n`);
  assert.equal(r.status, 0, r.stderr);
  const first = await greedy([{ role: 'user', content: [{ type: 'image', data: readFileSync(png) }, { type: 'text', text: 'What is this?' }] }], 4);
  const fresh = await greedy([{ role: 'user', content: [{ type: 'text', text: 'hello' }] }], 4);
  assert.equal(r.stdout, `${first.text}\n${fresh.text}\n`, 'two answers, the second as in a fresh conversation');
  const counts = [...r.stderr.matchAll(/\[(\d+) prompt tokens/g)].map((m) => Number(m[1]));
  assert.deepEqual(counts, [first.usage.promptTokens, fresh.usage.promptTokens]);
  assert.match(r.stderr, /gone\.png: cannot read it: ENOENT/);
  assert.match(r.stderr, /\[new conversation\]/);
});
