// TesseraProcessor on records: labels cover exactly the assistant answers (+ <|im_end|>, + the tool-call text of
// a calling turn), markers expand to the right number of placeholders, bad records fail with errors naming the
// record and the problem, collate pads on the requested side, and records from src/data/synthetic encode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeWav } from '../../data/audio/wav.ts';
import { encodeRgbPng } from '../../data/synthetic/png.ts';
import { synthesize } from '../../data/synthetic/synthesize.ts';
import { audioTokenCount } from './model.ts';
import type { EncodedSample } from './processor.ts';
import { tinyTessera } from './tiny.ts';

const dir = mkdtempSync(join(tmpdir(), 'tessera-proc-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const { processor, model } = tinyTessera(5);
const tok = processor.tokenizer;
const perImage = model.config.vision!.tokensPerImage;

const labelledText = (s: EncodedSample): string => tok.decode(s.inputIds.filter((_, i) => s.labels[i] !== -100));
const count = (ids: readonly number[], id: number): number => ids.filter((x) => x === id).length;

writeFileSync(join(dir, 'tone.wav'), encodeWav(Float32Array.from({ length: 8000 }, (_, i) => 0.2 * Math.sin(i / 7)), 16000));
writeFileSync(join(dir, 'red.png'), encodeRgbPng(new Uint8Array(40 * 30 * 4).fill(200), 40, 30));
writeFileSync(join(dir, 'broken.png'), Buffer.from('not a png at all'));
writeFileSync(join(dir, 'broken.wav'), Buffer.from('RIFF\u0010\u0000\u0000\u0000WAVEjunk'));

test('labels are exactly the assistant answers with their <|im_end|>, over several exchanges and a system turn', async () => {
  const rec = {
    id: 'multi', audio: 'tone.wav',
    conversations: [
      { from: 'system', value: 'Answer briefly.' },
      { from: 'human', value: '<audio>\nHow many beeps are there?' }, { from: 'gpt', value: '3' },
      { from: 'human', value: 'Is the second tone higher or lower than the first?' }, { from: 'gpt', value: 'higher' },
    ],
  };
  const s = await processor.encodeRecord(rec, dir, { maxLength: 400 });
  assert.equal(labelledText(s), '3<|im_end|>higher<|im_end|>');
  assert.equal(s.labels.length, s.inputIds.length);
  s.labels.forEach((l, i) => assert.ok(l === -100 || l === s.inputIds[i]));
  assert.equal(count(s.inputIds, processor.audioTokenId), audioTokenCount(s.audioLengths[0]!));
  assert.equal(s.audioLengths[0], 50);
  assert.ok(tok.decode(s.inputIds).startsWith('<|im_start|>system\nAnswer briefly.<|im_end|>'));
});

test('a tool record labels the call text and the final answer, not the tool result', async () => {
  const rec = {
    id: 'tool-1',
    conversations: [
      { from: 'human', value: 'What is the sum of all bar values? Use the calculator.' },
      { from: 'gpt', value: '', tool_calls: [{ name: 'calculator', arguments: { expression: '3+7+2' } }] },
      { from: 'tool', value: '12' }, { from: 'gpt', value: '12' },
    ],
  };
  const s = await processor.encodeRecord(rec, dir, { maxLength: 400 });
  assert.equal(labelledText(s), '<tool_call>\n{"name": "calculator", "arguments": {"expression": "3+7+2"}}\n</tool_call><|im_end|>12<|im_end|>');
  assert.match(tok.decode(s.inputIds), /<tool_response>\n12\n<\/tool_response>/);
});

test('bad records fail naming the record and the problem', async () => {
  const q = (value: string, extra: Record<string, unknown>): Record<string, unknown> =>
    ({ id: 'bad-1', ...extra, conversations: [{ from: 'human', value }, { from: 'gpt', value: 'red' }] });
  const cases: [Record<string, unknown>, RegExp][] = [
    [q('<image>\nWhat color?', { image: 'missing.png' }), /record bad-1: image missing\.png: .*cannot read/],
    [q('<image>\nWhat color?', { image: 'broken.png' }), /record bad-1: image broken\.png: /],
    [q('<audio>\nWhat number?', { audio: 'broken.wav' }), /record bad-1: audio broken\.wav: /],
    [q('<image>\nWhat color?', {}), /record bad-1: 1 <image> marker\(s\) in the text but 0 image\(s\) given/],
    [q('What color?', { audio: 'tone.wav' }), /record bad-1: 0 <audio> marker\(s\) in the text but 1 audio\(s\) given/],
    [q('<image><image>\nWhat color?', { images: ['red.png'] }), /record bad-1: 2 <image> marker\(s\) in the text but 1 image\(s\) given/],
    [q('What color? '.repeat(40), {}), /record bad-1: \d+ tokens exceed the length limit of 64/],
    [{ id: 'bad-2', conversations: [{ from: 'gpt', value: 'x' }] }, /record bad-2: the conversation must start with a system or human turn/],
    [{ id: 'bad-3', conversations: [{ from: 'human', value: 'x' }] }, /record bad-3: the conversation has no gpt turn/],
    [{ id: 'bad-4', conversations: [{ from: 'robot', value: 'x' }] }, /record bad-4: conversations\[0\]: "from" must be/],
  ];
  for (const [rec, err] of cases) await assert.rejects(processor.encodeRecord(rec, dir, { maxLength: 64 }), err);
  writeFileSync(join(dir, 'long.wav'), encodeWav(new Float32Array(16000 * 4), 16000));
  await assert.rejects(processor.encodeRecord(q('<audio>\nx', { audio: 'long.wav' }), dir, { maxLength: 400 }), /record bad-1: audio long\.wav: 4\.00 s of audio is longer than the model's 3 s chunk/);
});

test('collate pads right for training and left for generation, keeping media row-major', async () => {
  const a = await processor.encodePrompt([{ role: 'user', content: 'hi <audio>' }], { audios: [new Float32Array(3200).fill(0.1)] }, 'a');
  const b = await processor.encodePrompt([{ role: 'user', content: 'What color is the circle? It is red, green or blue.' }], {}, 'b');
  assert.ok(a.inputIds.length < b.inputIds.length);
  assert.ok(tok.decode(b.inputIds).endsWith('<|im_start|>assistant\n'));
  for (const padSide of ['right', 'left'] as const) {
    const batch = processor.collate([a, b], { padSide });
    const T = b.inputIds.length, pad = T - a.inputIds.length;
    const ids = batch.inputIds.toList(), mask = batch.attentionMask.toList();
    const rowA = ids.slice(0, T), maskA = mask.slice(0, T);
    assert.deepEqual(padSide === 'right' ? rowA.slice(0, a.inputIds.length) : rowA.slice(pad), a.inputIds);
    assert.equal(maskA.reduce((s, m) => s + m, 0), a.inputIds.length);
    assert.equal(padSide === 'right' ? maskA[0] : maskA[T - 1], 1);
    assert.equal(padSide === 'right' ? maskA[T - 1] : maskA[0], 0);
    assert.equal(batch.labels, null);
    assert.deepEqual(batch.audioFeatures!.shape, [1, 16, 300]);
    assert.deepEqual(batch.audioLengths, [20]);
  }
});

test('synthetic records (image, audio, cross-count, tool) encode with the right placeholders and labels', async () => {
  const out = join(dir, 'synth');
  await synthesize({ outDir: out, tasks: ['vqa-color', 'asr-digits', 'cross-count', 'tool'], n: 1, seed: 11, split: 'train' });
  const records = readFileSync(join(out, 'data.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(records.length, 4);
  for (const r of records) {
    const s = await processor.encodeRecord(r, out, { maxLength: 1024 });
    const turns = r.conversations as { from: string; value: string }[];
    const answers = turns.filter((t) => t.from === 'gpt').map((t) => t.value).filter((v) => v.length > 0);
    const label = labelledText(s);
    assert.ok(label.endsWith(`${answers[answers.length - 1]}<|im_end|>`), `${String(r.id)}: ${label}`);
    assert.equal(count(s.inputIds, processor.imageTokenId), typeof r.image === 'string' ? perImage : 0, String(r.id));
    assert.equal(s.pixelValues.length, typeof r.image === 'string' ? 1 : 0);
    assert.equal(s.audioFeatures.length, typeof r.audio === 'string' ? 1 : 0);
    if (typeof r.audio === 'string') assert.equal(count(s.inputIds, processor.audioTokenId), audioTokenCount(s.audioLengths[0]!));
    if (r.task === 'tool') assert.match(label, /^<tool_call>\n\{"name": "calculator", "arguments": \{"expression": "[0-9+]+"\}\}\n<\/tool_call><\|im_end\|>\d+<\|im_end\|>$/);
    else assert.equal(label, `${answers[0]}<|im_end|>`);
  }
});
