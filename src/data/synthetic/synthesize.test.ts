// Files on disk: same seed → byte-identical JSONL and media; records follow the card's shape; PNGs are
// 128x128 RGB, WAVs 16 kHz mono 16-bit ≤ 3 s; prefs and the text corpus are well-formed; the CLI drives it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { loadImage } from '@napi-rs/canvas';
import { registerDataCommands } from '../../app/cli/commands/data.ts';
import { espeakLibraryAvailable } from './espeak.ts';
import { readPngHeader } from './png.ts';
import { parseTaskList, synthesize } from './synthesize.ts';
import { textCorpusLines } from './textCorpus.ts';
import { ALL_TASKS } from './vocab.ts';
import { decodeWav } from './wav.ts';

const root = mkdtempSync(join(tmpdir(), 'synth-files-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

const N = 3;
const read = (dir: string, f: string) => readFileSync(join(dir, f));
const jsonl = (dir: string, f: string) => read(dir, f).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

test('same seed gives identical files; another seed differs', async () => {
  const a = join(root, 'a');
  const b = join(root, 'b');
  const c = join(root, 'c');
  await synthesize({ outDir: a, tasks: ALL_TASKS, n: N, seed: 42, split: 'train', prefs: true });
  await synthesize({ outDir: b, tasks: ALL_TASKS, n: N, seed: 42, split: 'train', prefs: true, concurrency: 1 });
  await synthesize({ outDir: c, tasks: ALL_TASKS, n: N, seed: 43, split: 'train' });
  for (const f of ['data.jsonl', 'meta.jsonl', 'prefs.jsonl']) assert.ok(read(a, f).equals(read(b, f)), `${f} differs`);
  const records = jsonl(a, 'data.jsonl');
  assert.equal(records.length, ALL_TASKS.length * N);
  let media = 0;
  for (const r of records) {
    for (const key of ['image', 'audio'] as const) {
      const p = r[key];
      if (typeof p !== 'string') continue;
      assert.ok(read(a, p).equals(read(b, p)), `${p} differs between runs`);
      media++;
    }
  }
  assert.equal(media, ALL_TASKS.length * N + N); // cross-count has both
  assert.ok(!read(a, 'data.jsonl').equals(read(c, 'data.jsonl')) || !read(a, 'img/caption-000000.png').equals(read(c, 'img/caption-000000.png')));
  assert.ok(!read(a, 'audio/beeps-000000.wav').equals(read(c, 'audio/beeps-000000.wav')));
});

test('records follow the card: markers, turns, media formats', async () => {
  const dir = join(root, 'h');
  const res = await synthesize({ outDir: dir, tasks: ALL_TASKS, n: N, seed: 7, split: 'heldout', prefs: true });
  assert.equal(res.records.length, res.scenes.length);
  for (const r of jsonl(dir, 'data.jsonl')) {
    const turns = r['conversations'] as { from: string; value: string }[];
    const human = turns[0]!;
    assert.equal(human.from, 'human');
    assert.equal(human.value.startsWith('<image>\n'), typeof r['image'] === 'string');
    assert.equal(human.value.includes('<audio>\n'), typeof r['audio'] === 'string');
    assert.equal(turns[turns.length - 1]!.from, 'gpt');
    assert.equal(turns.length, r['task'] === 'tool' ? 4 : 2);
    if (typeof r['image'] === 'string') {
      const bytes = read(dir, r['image']);
      assert.deepEqual(readPngHeader(bytes, r['image']), { width: 128, height: 128, bitDepth: 8, colorType: 2 });
      const img = await loadImage(bytes);
      assert.equal(img.width, 128);
      assert.equal(img.height, 128);
    }
    if (typeof r['audio'] === 'string') {
      const wav = decodeWav(read(dir, r['audio']), r['audio']);
      assert.equal(wav.sampleRate, 16000);
      assert.equal(wav.channels, 1);
      assert.equal(wav.bitsPerSample, 16);
      assert.ok(wav.samples.length > 1600 && wav.samples.length <= 48000, `${r['audio']}: ${wav.samples.length} samples`);
      assert.ok(wav.samples.some((v) => Math.abs(v) > 0.1), `${r['audio']} is nearly silent`);
    }
  }
  const prefs = jsonl(dir, 'prefs.jsonl');
  assert.equal(prefs.length, ALL_TASKS.length * N);
  for (const p of prefs) {
    assert.notEqual(p['chosen'], p['rejected']);
    const turns = p['conversations'] as { from: string }[];
    assert.equal(turns[turns.length - 1]!.from, p['task'] === 'tool' ? 'tool' : 'human');
  }
});

test('task lists and options are checked', async () => {
  assert.deepEqual(parseTaskList('all'), [...ALL_TASKS]);
  assert.deepEqual(parseTaskList('ocr, pitch'), ['ocr', 'pitch']);
  assert.throws(() => parseTaskList('ocr,colour'), /unknown task\(s\): colour/);
  await assert.rejects(synthesize({ outDir: join(root, 'x'), tasks: ['ocr'], n: -1, seed: 1, split: 'train' }), /n must be/);
});

test('text corpus is deterministic and uses the vocabulary', () => {
  const a = textCorpusLines(300, 5);
  assert.deepEqual(a, textCorpusLines(300, 5));
  assert.notDeepEqual(a, textCorpusLines(300, 6));
  assert.equal(a.length, 300);
  assert.ok(a.some((l) => /circle|square|triangle/.test(l)) && a.some((l) => /\d \+ \d/.test(l)));
  for (const l of a) if (/^\d+( \+ \d+)+ = \d+\.$/.test(l)) {
    const [lhs, rhs] = l.slice(0, -1).split(' = ');
    assert.equal(lhs!.split(' + ').reduce((s, v) => s + Number(v), 0), Number(rhs));
  }
});

test('CLI: tessera data synth writes the set and rejects bad options', async () => {
  const out = join(root, 'cli');
  const program = new Command('tessera').exitOverride();
  registerDataCommands(program);
  await program.parseAsync(['data', 'synth', '--out', out, '--tasks', 'vqa-exist,pitch', '--n', '4', '--seed', '3', '--split', 'heldout'], { from: 'user' });
  const records = jsonl(out, 'data.jsonl');
  assert.deepEqual(records.map((r) => r['task']), ['vqa-exist', 'vqa-exist', 'vqa-exist', 'vqa-exist', 'pitch', 'pitch', 'pitch', 'pitch']);
  const bad = new Command('tessera').exitOverride();
  registerDataCommands(bad);
  await assert.rejects(bad.parseAsync(['data', 'synth', '--out', out, '--tasks', 'all', '--n', 'many', '--seed', '3'], { from: 'user' }), /--n must be an integer/);
  await assert.rejects(bad.parseAsync(['data', 'synth', '--out', out, '--tasks', 'all', '--n', '1', '--seed', '3', '--split', 'test'], { from: 'user' }), /--split must be train or heldout/);
});

test('speech without its programs on PATH fails naming what is missing', async () => {
  const path = process.env.PATH;
  process.env.PATH = join(root, 'no-programs-here');
  try {
    // espeak-ng runs in this process where libespeak-ng loads (espeak.ts), so sox is the first program missed
    const missing = espeakLibraryAvailable() ? /sox is not installed \(or not on PATH\).*apt-get install sox/
      : /espeak-ng is not installed \(or not on PATH\).*apt-get install espeak-ng/;
    await assert.rejects(synthesize({ outDir: join(root, 'no-espeak'), tasks: ['asr-digits'], n: 1, seed: 1, split: 'train' }), missing);
  } finally {
    process.env.PATH = path;
  }
});

test('with TESSERA_ESPEAK=program and no espeak-ng on PATH, speech fails naming the program', () => {
  const code = `import { synthesize } from './src/data/synthetic/synthesize.ts';
    await synthesize({ outDir: ${JSON.stringify(join(root, 'no-espeak-program'))}, tasks: ['asr-digits'], n: 1, seed: 1, split: 'train' });`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: join(import.meta.dirname, '..', '..', '..'),
    env: { ...process.env, PATH: join(root, 'no-programs-here'), TESSERA_ESPEAK: 'program' },
    encoding: 'utf8',
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /espeak-ng is not installed \(or not on PATH\).*apt-get install espeak-ng/);
});
