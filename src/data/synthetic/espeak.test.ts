// libespeak-ng in process against the espeak-ng program: the same samples, call after call (the library is
// reloaded per utterance because it keeps state between them), for English voices with their variants (klatt's
// noise included), a voice found in the full data, and names that are no voice's (left to the program).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ESPEAK_RATE, espeakLibraryAvailable, speakInProcess } from './espeak.ts';
import { decodeWav } from './wav.ts';

const root = mkdtempSync(join(tmpdir(), 'espeak-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

const skip = espeakLibraryAvailable() ? false : 'libespeak-ng cannot be loaded here (the espeak-ng program is used)';

function program(voice: string, speed: number, pitch: number, gap: number, text: string): Float32Array {
  const file = join(root, 'out.wav');
  execFileSync('espeak-ng', ['-w', file, '-v', voice, '-s', String(speed), '-p', String(pitch), '-g', String(gap), text]);
  const wav = decodeWav(readFileSync(file));
  assert.equal(wav.sampleRate, ESPEAK_RATE);
  return wav.samples;
}

test('in process, espeak-ng gives the samples its program writes, utterance after utterance', { skip }, () => {
  const cases: Array<[string, number, number, number, string]> = [
    ['en-us+m7', 208, 64, 10, 'zero'],
    ['en-us+m7', 208, 64, 10, 'zero'], // the same again: a second call in one process drifted before the reload
    ['en-gb-x-rp+klatt', 150, 40, 0, 'seven'],
    ['en-029+f5', 190, 70, 25, 'three, five, nine'],
    ['en-gb-scotland+Annie', 135, 30, 5, 'four hundred and twelve'],
    ['en+klatt3', 220, 55, 0, 'eight'],
    ['en-us-nyc', 170, 50, 12, 'two one six'],
    ['de', 160, 50, 0, 'sieben'], // not English: looked up in the full data
    ['en-gb-x-gbcwmd+m3', 180, 45, 8, 'ninety'],
  ];
  for (const [voice, speed, pitch, gap, text] of cases) {
    const mine = speakInProcess(voice, speed, pitch, gap, text);
    assert.ok(mine, `${voice}: spoken in process`);
    const theirs = program(voice, speed, pitch, gap, text);
    assert.ok(theirs.length > 1000, `${voice}: the program spoke`);
    assert.equal(mine.length, theirs.length, `${voice} ${JSON.stringify(text)}: sample count`);
    assert.ok(mine.every((v, i) => v === theirs[i]), `${voice} ${JSON.stringify(text)}: samples`);
  }
});

test('a name that is no voice file is left to the program, which picks a voice by language', { skip }, () => {
  assert.equal(speakInProcess('en-gb', 170, 50, 0, 'one'), null);
  assert.ok(program('en-gb', 170, 50, 0, 'one').length > 1000);
});
