// The chat engine on multimodal checkpoints: a tiny random tessera model (what `tessera init-tessera` writes)
// answers chats holding images and audio (gibberish, but produced by every layer), with the prompt token count
// equal to TesseraProcessor.encodePrompt's, greedy output equal to TesseraModel.generate (cached generation
// through the engine = the model's own), the same checkpoint exported as LLaVA answering the same image prompt
// with the same text, and clear 400-class errors for missing, corrupt or too large media.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { encodeWav } from '../data/audio/wav.ts';
import { saveTessera, loadTessera } from '../models/tessera/checkpoint.ts';
import { exportTessera } from '../models/tessera/export.ts';
import { tinyTessera } from '../models/tessera/tiny.ts';
import { decodeImage } from '../models/vision/preprocess/decode.ts';
import { ChatInputError, createEngine, type ChatEngine, type ChatRequest, type MediaPart } from './engine.ts';

let root = '';
let engine: ChatEngine;
let png: Uint8Array, wav: Uint8Array, tone: Float32Array;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'tessera-engine-'));
  const t = tinyTessera(3);
  saveTessera(join(root, 'tessera'), t.model, t.processor);
  exportTessera(t.model, t.processor, 'hf-llava', join(root, 'llava'));
  engine = await createEngine(join(root, 'tessera'), { modelId: 'tiny-tessera' });
  png = await sharp({ create: { width: 40, height: 24, channels: 3, background: '#3060c0' } }).png().toBuffer();
  tone = Float32Array.from({ length: 16000 }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / 16000));
  wav = encodeWav(tone, 16000);
});
after(() => rmSync(root, { recursive: true, force: true }));

const ask = (parts: MediaPart[], extra: Partial<ChatRequest> = {}): ChatRequest => ({ messages: [{ role: 'user', content: parts }], ...extra });

test('tessera: a chat with an image and an audio part streams an answer with the right token counts', async () => {
  const { processor } = loadTessera(join(root, 'tessera'));
  const eos = processor.eosTokenId;
  const deltas: string[] = [];
  const parts: MediaPart[] = [{ type: 'image', data: png }, { type: 'text', text: 'What color is the circle?' }, { type: 'audio', data: wav, format: 'wav' }];
  // A bias against eos makes the reply run to max_tokens, so its length is known.
  const r = await engine.chat(ask(parts, { maxTokens: 6, sampling: { temperature: 0.8, seed: 1, logitBias: new Map([[eos, -100]]) } }), (d) => deltas.push(d));
  const expected = await processor.encodePrompt([{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What color is the circle?' }, { type: 'audio' }] }],
    { images: [await decodeImage(png)], audios: [tone] });
  assert.equal(r.usage.promptTokens, expected.inputIds.length);
  assert.ok(expected.inputIds.length > processor.imageSeqLength + 10, 'the image and audio placeholders are counted');
  assert.equal(r.usage.completionTokens, 6);
  assert.equal(r.usage.totalTokens, expected.inputIds.length + 6);
  assert.equal(r.finishReason, 'length');
  assert.ok(r.text.length > 0);
  assert.equal(deltas.join(''), r.text);
});

test('tessera: greedy replies equal TesseraModel.generate on the processor batch (several images and audios)', async () => {
  const { model, processor } = loadTessera(join(root, 'tessera'));
  const png2 = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#f0a000' } }).png().toBuffer();
  const parts: MediaPart[] = [{ type: 'image', data: png }, { type: 'image', data: png2 }, { type: 'text', text: 'How many squares?' },
    { type: 'audio', data: wav, format: 'wav' }, { type: 'audio', data: encodeWav(tone.subarray(0, 8000), 16000), format: 'wav' }];
  const steps = 5;
  const r = await engine.chat(ask(parts, { maxTokens: steps, sampling: { temperature: 0 } }), () => {});
  const sample = await processor.encodePrompt([{ role: 'user', content: [{ type: 'image' }, { type: 'image' }, { type: 'text', text: 'How many squares?' }, { type: 'audio' }, { type: 'audio' }] }],
    { images: [await decodeImage(png), await decodeImage(png2)], audios: [tone, tone.subarray(0, 8000)] });
  const ref = model.generate(processor.collate([sample], { padSide: 'left' }), steps, processor.eosTokenId).tokens[0]!;
  const refIds = ref.includes(processor.eosTokenId) ? ref.slice(0, ref.indexOf(processor.eosTokenId)) : ref;
  assert.equal(r.usage.promptTokens, sample.inputIds.length);
  assert.equal(r.usage.completionTokens, refIds.length); // eos ends the reply and is not counted
  assert.ok(refIds.length > 0, 'the reply is not empty');
  assert.equal(r.text, processor.tokenizer.decode(refIds, { skipSpecialTokens: true }));
});

test('llava: the hf-llava export of the same checkpoint answers an image prompt with the same greedy text', async () => {
  const llava = await createEngine(join(root, 'llava'));
  const parts: MediaPart[] = [{ type: 'image', data: png }, { type: 'text', text: 'Describe the image.' }];
  const req = ask(parts, { maxTokens: 5, sampling: { temperature: 0 } });
  const a = await llava.chat(req, () => {});
  const b = await engine.chat(req, () => {});
  assert.equal(a.usage.promptTokens, b.usage.promptTokens);
  assert.equal(a.text, b.text);
  assert.ok(a.usage.completionTokens > 0 && a.usage.completionTokens === b.usage.completionTokens);
  await assert.rejects(llava.chat(ask([{ type: 'audio', data: wav, format: 'wav' }]), () => {}),
    (e) => e instanceof ChatInputError && e.code === 'unsupported_media');
});

test('tessera: MP3 audio goes through ffmpeg', { skip: spawnSync('ffmpeg', ['-version']).status !== 0 && 'ffmpeg is not installed' }, async () => {
  const dir = mkdtempSync(join(root, 'mp3-'));
  const src = join(dir, 'tone.wav'), mp3 = join(dir, 'tone.mp3');
  const { writeFileSync, readFileSync } = await import('node:fs');
  writeFileSync(src, wav);
  const run = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', src, mp3]);
  assert.equal(run.status, 0, String(run.stderr));
  const r = await engine.chat(ask([{ type: 'audio', data: readFileSync(mp3), format: 'mp3' }, { type: 'text', text: 'Transcribe the audio.' }], { maxTokens: 2 }), () => {});
  assert.ok(r.usage.promptTokens > 10 && r.usage.completionTokens >= 0);
});

test('errors: corrupt, missing and too large media, and an over-long prompt, are ChatInputErrors naming the part', async () => {
  const fails = (req: ChatRequest, code: string, re: RegExp) => assert.rejects(engine.chat(req, () => {}),
    (e) => e instanceof ChatInputError && e.code === code && re.test(e.message), `expected ${code} ${re}`);
  await fails(ask([{ type: 'text', text: 'hi' }, { type: 'image', data: new TextEncoder().encode('not an image') }]), 'invalid_image', /messages\[0\]\.content\[1\]/);
  await fails(ask([{ type: 'audio', data: new Uint8Array([82, 73, 70, 70, 1, 2, 3]), format: 'wav' }]), 'invalid_audio', /messages\[0\]\.content\[0\]/);
  await fails(ask([{ type: 'audio', data: new Uint8Array(0), format: 'wav' }]), 'invalid_audio', /empty/);
  // The encoder takes 3 s chunks: 4 s is over the engine's limit.
  await fails(ask([{ type: 'audio', data: encodeWav(new Float32Array(64000), 16000), format: 'wav' }]), 'audio_too_long', /4\.00 s.*limit of 3 s/);
  // A marker typed as text has no image behind it.
  await fails(ask([{ type: 'text', text: 'look: <image>' }]), 'media_mismatch', /1 <image> marker\(s\) but 0 image/);
  await fails({ messages: [{ role: 'user', content: 'red '.repeat(1200) }] }, 'context_length_exceeded', /context of 1024 tokens/);
  const small = await createEngine(join(root, 'tessera'), { maxImagePixels: 100 });
  await assert.rejects(small.chat(ask([{ type: 'image', data: png }]), () => {}), (e) => e instanceof ChatInputError && /100 pixels/.test(e.message));
  assert.equal(engine.limits.maxAudioSeconds, 3);
});
