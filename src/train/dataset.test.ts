// Bad records are reported with file and line and then skipped (or made fatal), never trained on: invalid JSON,
// a marker without media, media without a marker, a missing image, a corrupt image, a corrupt WAV and a
// record over the length limit, read through the real tessera processor.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { encodeWav } from '../data/audio/wav.ts';
import { tinyTessera } from '../models/tessera/tiny.ts';
import { BadRecordError, formatSummary, loadJsonl, preferenceRecords, type BadRecord } from './dataset.ts';

const q = (value: string, answer = 'red') => [{ from: 'human', value }, { from: 'gpt', value: answer }];

test('bad records are named by file and line, skipped or fatal', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-data-'));
  try {
    mkdirSync(join(dir, 'img'));
    await sharp({ create: { width: 40, height: 40, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toFile(join(dir, 'img/ok.png'));
    writeFileSync(join(dir, 'img/bad.png'), 'this is not a png');
    writeFileSync(join(dir, 'ok.wav'), encodeWav(new Float32Array(8000).map((_, i) => 0.3 * Math.sin(i / 5)), 16000));
    writeFileSync(join(dir, 'bad.wav'), Buffer.from('RIFF\x10\x00\x00\x00WAVEjunk'));
    const lines = [
      JSON.stringify({ id: 'ok1', image: 'img/ok.png', conversations: q('<image>\nWhat color is the circle?') }),
      '{"id": "broken", ',
      JSON.stringify({ id: 'nomedia', conversations: q('<image>\nWhat color is the circle?') }),
      JSON.stringify({ id: 'nomarker', image: 'img/ok.png', conversations: q('What color is the circle?') }),
      JSON.stringify({ id: 'missing', image: 'img/none.png', conversations: q('<image>\nWhat color?') }),
      JSON.stringify({ id: 'corrupt', image: 'img/bad.png', conversations: q('<image>\nWhat color?') }),
      '',
      JSON.stringify({ id: 'badwav', audio: 'bad.wav', conversations: q('<audio>\nTranscribe the audio.', 'one') }),
      JSON.stringify({ id: 'long', conversations: q('How many squares are there? '.repeat(200), '3') }),
      JSON.stringify({ id: 'ok2', audio: 'ok.wav', conversations: q('<audio>\nHow many beeps are there?', '2') }),
    ];
    const file = join(dir, 'train.jsonl');
    writeFileSync(file, lines.join('\n') + '\n');
    const { processor } = tinyTessera(0);
    const encode = (r: unknown, base: string) => processor.encodeRecord(r, base, { maxLength: 400 });
    const reported: BadRecord[] = [];
    const { samples, summary } = await loadJsonl(file, encode, { onBadRecord: 'skip', report: (b) => reported.push(b) });
    assert.deepEqual(samples.map((s) => s.id), ['ok1', 'ok2']);
    assert.deepEqual(summary.bad.map((b) => b.line), [2, 3, 4, 5, 6, 8, 9]);
    assert.deepEqual(reported, summary.bad);
    const reasons = summary.bad.map((b) => b.reason);
    const expect = [/invalid JSON/, /record nomedia: 1 <image> marker\(s\) in the text but 0 image/, /record nomarker: 0 <image> marker\(s\) in the text but 1 image/,
      /record missing: image img\/none\.png/, /record corrupt: image img\/bad\.png/, /record badwav: audio bad\.wav/, /record long: \d+ tokens exceed the length limit of 400/];
    expect.forEach((re, i) => assert.match(reasons[i]!, re));
    assert.ok(summary.bad.every((b) => b.file === file));
    assert.equal(formatSummary(summary), `${file}: 2 of 9 record(s) kept, 7 bad record(s) skipped`);

    await assert.rejects(loadJsonl(file, encode, { onBadRecord: 'fail' }), (e: Error) => {
      assert.ok(e instanceof BadRecordError);
      assert.match(e.message, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: invalid JSON`));
      return true;
    });
    await assert.rejects(loadJsonl(join(dir, 'nope.jsonl'), encode, { onBadRecord: 'skip' }), /nope\.jsonl: cannot read data file \(ENOENT\)/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('records encoded concurrently come back in line order, bad ones by their line, and the limit holds', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-data-'));
  try {
    // 40 lines (more than one window of concurrent encodes); each encode finishes later the earlier its line
    const lines = Array.from({ length: 40 }, (_, i) => (i === 7 || i === 23 ? '{ nope' : JSON.stringify({ n: i })));
    const file = join(dir, 'order.jsonl');
    writeFileSync(file, lines.join('\n') + '\n');
    const encode = async (r: unknown) => {
      const n = (r as { n: number }).n;
      await new Promise((done) => setTimeout(done, 40 - n));
      if (n === 30) throw new Error('thirty is bad');
      return n;
    };
    const { samples, summary } = await loadJsonl(file, encode, { onBadRecord: 'skip', report: () => {} });
    assert.deepEqual(samples, lines.map((_, i) => i).filter((i) => i !== 7 && i !== 23 && i !== 30));
    assert.deepEqual(summary.bad.map((b) => b.line), [8, 24, 31]);
    assert.equal(summary.bad[2]!.reason, 'thirty is bad');
    const limited = await loadJsonl(file, encode, { onBadRecord: 'skip', report: () => {}, limit: 20 });
    assert.deepEqual(limited.samples, lines.map((_, i) => i).filter((i) => i !== 7 && i !== 23).slice(0, 20));
    assert.equal(limited.summary.lines, 21, 'lines read up to the 20th good record, the bad line 8 included');
    await assert.rejects(loadJsonl(file, encode, { onBadRecord: 'fail' }), /order\.jsonl:8: invalid JSON/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a preference record becomes chosen and rejected conversations; bad ones are named', () => {
  const r = preferenceRecords({ id: 'p1', image: 'a.png', conversations: [{ from: 'human', value: '<image>\nWhat color?' }], chosen: 'red', rejected: 'blue' });
  assert.deepEqual(r.chosen.conversations, [{ from: 'human', value: '<image>\nWhat color?' }, { from: 'gpt', value: 'red' }]);
  assert.equal((r.rejected.conversations as { value: string }[])[1]!.value, 'blue');
  assert.equal(r.rejected.image, 'a.png');
  assert.throws(() => preferenceRecords({ id: 'p2', conversations: [], chosen: 'x' }), /preference record p2: "rejected" must be a non-empty string/);
});
