// LlavaProcessor parity with transformers on fixtures/hf/llava-processor: two chats with images,
// left padding. Prompts and ids/mask exact, pixel values within 1e-5.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hfFixture } from '../../util/paths.ts';
import { decodeImage } from '../vision/preprocess/decode.ts';
import type { ChatMessage } from '../../infer/chat-template.ts';
import { LlavaProcessor } from './llava.ts';

// Minimal safetensors reader for the fixture (F32 and I64 only), so this test stands alone.
function readTensors(path: string): Map<string, { shape: number[]; data: number[] }> {
  const buf = readFileSync(path);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const base = 8 + headerLen;
  const out = new Map<string, { shape: number[]; data: number[] }>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const dv = new DataView(buf.buffer, buf.byteOffset + base + t.data_offsets[0], t.data_offsets[1] - t.data_offsets[0]);
    const width = t.dtype === 'F32' ? 4 : 8;
    const data = Array.from({ length: dv.byteLength / width }, (_, i) => (t.dtype === 'F32' ? dv.getFloat32(i * 4, true) : Number(dv.getBigInt64(i * 8, true))));
    out.set(name, { shape: t.shape, data });
  }
  return out;
}

const dir = hfFixture('llava-processor');

test('LlavaProcessor: prompts, expanded ids, left padding, mask and pixels match transformers', { skip: dir === null }, async () => {
  const meta = JSON.parse(readFileSync(join(dir!, 'meta.json'), 'utf8')) as { prompts: string[]; messages: ChatMessage[][]; image_token_id: number };
  const io = readTensors(join(dir!, 'io.safetensors'));
  const proc = LlavaProcessor.fromDir(dir!);
  assert.equal(proc.imageTokenId, meta.image_token_id);

  const prompts = meta.messages.map((m) => proc.applyChatTemplate(m, { addGenerationPrompt: true }));
  assert.deepEqual(prompts, meta.prompts);

  const images = await Promise.all(['image1.png', 'image2.png'].map((f) => decodeImage(join(dir!, f))));
  const batch = proc.call(prompts, images);
  const ids = io.get('input_ids')!;
  const [b, l] = ids.shape as [number, number];
  assert.deepEqual([batch.inputIds.length, batch.inputIds[0]!.length], [b, l]);
  assert.deepEqual(batch.inputIds.flat(), ids.data);
  assert.deepEqual(batch.attentionMask.flat(), io.get('attention_mask')!.data);
  for (const row of batch.inputIds) assert.equal(row.filter((id) => id === proc.imageTokenId).length, proc.numImageTokens(32, 32));

  const pv = io.get('pixel_values')!;
  assert.deepEqual(batch.pixelValues?.shape, pv.shape);
  let diff = 0;
  batch.pixelValues!.data.forEach((v, i) => (diff = Math.max(diff, Math.abs(v - pv.data[i]!))));
  console.log(`llava pixel_values maxdiff ${diff.toExponential(2)}`);
  assert.ok(diff <= 1e-5);
});

test('image token count follows the strategy; mismatched images are an error', { skip: dir === null }, async () => {
  const proc = LlavaProcessor.fromDir(dir!);
  assert.equal(proc.numImageTokens(32, 32), 16); // 4*4 + 1 - 1
  assert.equal(proc.numImageTokens(40, 24), 15);
  const img = await decodeImage(join(dir!, 'image1.png'));
  assert.throws(() => proc.call(['USER: <image> hi'], []), /1 <image> tokens but 0 images/);
  assert.throws(() => proc.call(['USER: hi'], [img]), /0 <image> tokens but 1 images/);
  const right = proc.call(['a', 'a longer prompt'], [], { paddingSide: 'right' });
  assert.equal(right.attentionMask[0]![0], 1);
  assert.equal(right.attentionMask[0]!.at(-1), 0);
  assert.equal(right.pixelValues, undefined);
});
