// Tests for safetensors read/write: round trips of every dtype, the real HF fixtures (values checked against
// numbers printed by Python's safetensors.numpy.load_file), byte equality with the Python writer
// (test/fixtures/safetensors/, made by scripts/dump_safetensors_fixtures.py), validation of lying headers,
// and a seeded fuzz run of corrupted files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors, openSafetensors, readSafetensorsBuffer, SafetensorsError, writeSafetensors } from './safetensors.ts';
import type { SafetensorsReader, TensorData } from './safetensors.ts';
import { hfFixture, repoRoot } from '../util/paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'tessera-st-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

function sample(): Record<string, TensorData> {
  return {
    'w.f32': { dtype: 'float32', shape: [2, 3], data: Float32Array.from([0.5, -1.25, 3e38, -0, 1e-45, Math.PI]) },
    'w.f64': { dtype: 'float64', shape: [2], data: Float64Array.from([1 / 3, -1e300]) },
    'w.f16': { dtype: 'float16', shape: [4], data: Uint16Array.from([0x3c00, 0x7c00, 0x0001, 0xfe00]) },
    'w.bf16': { dtype: 'bfloat16', shape: [2, 2], data: Uint16Array.from([0x3f80, 0xff80, 0x7fc1, 0x8001]) },
    ids: { dtype: 'int32', shape: [3], data: Int32Array.from([-2147483648, 0, 2147483647]) },
    big: { dtype: 'int64', shape: [3], data: BigInt64Array.from([-(2n ** 63n), 2n ** 53n + 1n, 2n ** 63n - 1n]) },
    mask: { dtype: 'bool', shape: [1, 3], data: Uint8Array.from([1, 0, 1]) },
    empty: { dtype: 'float32', shape: [0, 3], data: new Float32Array(0) },
    scalar: { dtype: 'int64', shape: [], data: BigInt64Array.from([42n]) },
  };
}

function assertSameTensors(r: SafetensorsReader, want: Record<string, TensorData>): void {
  assert.deepEqual(r.keys().sort(), Object.keys(want).sort());
  for (const [k, t] of Object.entries(want)) {
    const got = r.read(k);
    assert.equal(got.dtype, t.dtype, k);
    assert.deepEqual(got.shape, t.shape, k);
    assert.equal(got.data.constructor, t.data.constructor, k);
    assert.deepEqual(bytesOf(got.data), bytesOf(t.data), k); // bit-exact, so NaN payloads and -0 count
  }
}

const bytesOf = (d: TensorData['data']): Uint8Array => new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

test('every dtype, empty and scalar tensors, and metadata round-trip through a file', () => {
  const path = join(tmp, 'all.safetensors');
  writeSafetensors(path, sample(), { format: 'pt', note: 'é "quoted"' });
  assert.deepEqual(readdirSync(tmp).filter((f) => f.includes('.tmp-')), [], 'no temp file left behind');
  const r = openSafetensors(path);
  assertSameTensors(r, sample());
  assert.deepEqual({ ...r.metadata }, { format: 'pt', note: 'é "quoted"' });
  const info = r.info('big');
  assert.deepEqual([info.dtype, info.code, info.end - info.begin], ['int64', 'I64', 24]);
  assert.deepEqual([...r.readFloat32('w.bf16')].slice(0, 2), [1, -Infinity]);
  assert.deepEqual([...r.readFloat32('big')], [-(2 ** 63), 2 ** 53, 2 ** 63]);
  assert.deepEqual([...r.readFloat32('mask')], [1, 0, 1]);
  r.close();
  assert.throws(() => r.read('ids'), /after close/);
  // Rewriting in place replaces the file atomically.
  writeSafetensors(path, { x: { dtype: 'int32', shape: [1], data: Int32Array.of(7) } });
  const r2 = openSafetensors(path);
  assert.deepEqual(r2.keys(), ['x']);
  assert.deepEqual({ ...r2.metadata }, {});
  r2.close();
});

test('the in-memory encoder and the file writer give the same bytes, and tensors tile the data region', () => {
  const path = join(tmp, 'same.safetensors');
  writeSafetensors(path, sample());
  const bytes = encodeSafetensors(sample());
  assert.deepEqual(new Uint8Array(readFileSync(path)), bytes);
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(headerLen % 8, 0);
  const r = readSafetensorsBuffer(bytes);
  assertSameTensors(r, sample());
  const spans = r.keys().map((k) => r.info(k)).sort((a, b) => a.begin - b.begin);
  assert.equal(spans[0]!.begin, 8 + headerLen);
  assert.equal(spans.at(-1)!.end, bytes.byteLength);
});

test('the writer rejects data that does not match its dtype or shape', () => {
  const bad = (t: unknown) => () => encodeSafetensors({ k: t as TensorData });
  assert.throws(bad({ dtype: 'float32', shape: [3], data: new Float32Array(2) }), /tensor "k".*2 elements.*needs 3/);
  assert.throws(bad({ dtype: 'float16', shape: [2], data: new Float32Array(2) }), /float16 needs a Uint16Array/);
  assert.throws(bad({ dtype: 'int8', shape: [1], data: new Int8Array(1) }), /unknown dtype "int8"/);
  assert.throws(bad({ dtype: 'int32', shape: [-1], data: new Int32Array(0) }), /bad shape/);
  assert.throws(() => encodeSafetensors({ __metadata__: sample().ids! }), /reserved/);
});

test('byte-for-byte equal to the Python safetensors writer', () => {
  // The fixture was written by safetensors 0.8.0 (torch.save_file); here the same tensors are built from the
  // literals in the script, inserted in a different order, and our encoder must reproduce the file exactly:
  // order by dtype rank then UTF-8 name, JSON escaping, and space padding.
  const file = new Uint8Array(readFileSync(join(repoRoot, 'test/fixtures/safetensors/python-written.safetensors')));
  const f32 = (...v: number[]): TensorData => ({ dtype: 'float32', shape: [v.length], data: Float32Array.from(v) });
  const ours: Record<string, TensorData> = {
    '\u{1F600}': f32(3), '\uff61': f32(2), é: f32(4), 'name "quoted" \\ \n\x01': f32(1),
    mask: { dtype: 'bool', shape: [3], data: Uint8Array.of(1, 0, 1) },
    10: { dtype: 'int32', shape: [1], data: Int32Array.of(8) },
    0: { dtype: 'int32', shape: [1], data: Int32Array.of(7) },
    scalar: { dtype: 'float32', shape: [], data: Float32Array.of(3.5) },
    empty: { dtype: 'float32', shape: [0, 3], data: new Float32Array(0) },
    i64: { dtype: 'int64', shape: [3], data: BigInt64Array.of(-(2n ** 63n), 2n ** 53n + 1n, 2n ** 63n - 1n) },
    i32: { dtype: 'int32', shape: [3], data: Int32Array.of(-(2 ** 31), 0, 2 ** 31 - 1) },
    bf16: { dtype: 'bfloat16', shape: [4], data: Uint16Array.of(0x3f80, 0xc000, 0x7f7f, 0x0001) },
    f16: { dtype: 'float16', shape: [6], data: Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x7e00) },
    f64: { dtype: 'float64', shape: [3], data: Float64Array.of(1 / 3, -2.5, 1e300) },
    f32: { dtype: 'float32', shape: [2, 3], data: Float32Array.from([0, 1, 2, 3, 4, 5], (i) => i * 0.25 - 0.5) },
  };
  assert.deepEqual(encodeSafetensors(ours, { format: 'pt' }), file);
  assertSameTensors(readSafetensorsBuffer(file), ours);
});

test('reads every tensor of the real llava-clip-llama fixtures', (t) => {
  const dir = hfFixture('llava-clip-llama');
  if (!dir) return t.skip('shared fixtures absent');
  const model = openSafetensors(join(dir, 'model.safetensors'));
  const io = openSafetensors(join(dir, 'io.safetensors'));
  assert.equal(model.keys().length, 64);
  assert.equal(io.keys().length, 18);
  assert.deepEqual({ ...model.metadata }, { format: 'pt' });
  for (const r of [model, io]) for (const k of r.keys()) {
    const x = r.read(k);
    assert.equal(x.data.length, x.shape.reduce((a, b) => a * b, 1), k);
  }
  // Reference numbers from `safetensors.numpy.load_file` (first, second, last element; float64 sum).
  const spot = (r: SafetensorsReader, key: string, shape: number[], first: number[], last: number, sum: number) => {
    const x = r.readFloat32(key);
    assert.deepEqual(r.info(key).shape, shape, key);
    assert.deepEqual([x[0], x[1], x.at(-1)], [...first, last], key);
    assert.ok(Math.abs(x.reduce((a, b) => a + b, 0) - sum) < 1e-6 * Math.max(1, Math.abs(sum)) * 10, key);
  };
  spot(model, 'language_model.lm_head.weight', [300, 64], [0.03482436016201973, -0.019302014261484146], 0.02281179465353489, -10.04434098218644);
  spot(model, 'language_model.model.embed_tokens.weight', [300, 64], [0, 0], -0.03841760382056236, 18.203008215525188);
  spot(model, 'vision_tower.pre_layrnorm.weight', [32], [1.0680522918701172, 0.9419133067131042], 0.9811241030693054, 31.798613131046295);
  spot(io, 'vision_pooler_output', [2, 32], [-2.4735937118530273, 0.34536227583885193], 2.0757405757904053, 0.39610903104767203);
  spot(io, 'gen_batch_step_logits', [2, 8, 300], [0.655961811542511, -0.8399237990379333], 0.050630226731300354, 27.54423491563648);
  const seq = io.read('gen_batch_sequences');
  assert.equal(seq.dtype, 'int64');
  assert.deepEqual([...(seq.data as BigInt64Array)].slice(0, 2).concat((seq.data as BigInt64Array).at(-1)!), [1n, 28n, 76n]);
  assert.deepEqual(seq.shape, [2, 38]);
  model.close();
  io.close();
});

// --- validation: hand-built files whose header lies ---

function build(header: unknown, data: Uint8Array | number = 0, headerLen?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, headerLen ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}
const rejects = (bytes: Uint8Array, pattern: RegExp) => {
  assert.throws(() => readSafetensorsBuffer(bytes, 'bad.safetensors'), (e: unknown) => {
    assert.ok(e instanceof SafetensorsError, `not a SafetensorsError: ${String(e)}`);
    assert.match(e.message, /^bad\.safetensors: /);
    assert.match(e.message, pattern);
    return true;
  });
};
const entry = (dtype: string, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });

test('a corrupt or lying header gives a SafetensorsError naming the file and the tensor', () => {
  rejects(new Uint8Array(5), /too short/);
  rejects(build({}, 0, 200_000_000n), /larger than the 100000000-byte limit/);
  rejects(build({}, 0, 2n ** 64n - 1n), /larger than/);
  rejects(build({}, 0, 64n), /runs past the end/);
  rejects(build('{"a": '), /not valid JSON/);
  rejects(build('[1,2]'), /not an object/);
  const notUtf8 = build('{"\u00e9":1}');
  notUtf8[10] = 0xff;
  rejects(notUtf8, /not valid UTF-8/);
  rejects(build({ a: 3 }), /tensor "a": header entry is not an object/);
  rejects(build({ a: entry('F32', [1], [0, 4]) }, 4).subarray(0, 8 + 46), /runs past|hole|after the last/);
  rejects(build({ a: entry('Q4', [1], [0, 4]) }, 4), /tensor "a": unknown dtype "Q4"/);
  rejects(build({ a: entry('F8_E4M3', [4], [0, 4]) }, 4), /tensor "a": dtype F8_E4M3 is not supported/);
  rejects(build({ a: entry('F32', [2, -1], [0, 0]) }), /tensor "a": shape \[2,-1\] is not an array/);
  rejects(build({ a: entry('F32', [1.5], [0, 6]) }, 6), /tensor "a": shape/);
  rejects(build({ a: entry('F32', '4', [0, 16]) }, 16), /tensor "a": shape/);
  rejects(build({ a: entry('F32', [2 ** 30, 2 ** 30, 2 ** 30], [0, 0]) }), /tensor "a": shape .* too many elements/);
  rejects(build({ a: entry('F64', [2 ** 26, 2 ** 26], [0, 0]) }), /tensor "a": shape .* too many bytes/);
  rejects(build({ a: entry('F32', [1], [0]) }, 4), /tensor "a": data_offsets \[0\] is not/);
  rejects(build({ a: entry('F32', [1], [4, 0]) }, 4), /tensor "a": data_offsets/);
  rejects(build({ a: entry('F32', [1], ['0', '4']) }, 4), /tensor "a": data_offsets/);
  rejects(build({ a: entry('F32', [2], [0, 4]) }, 4), /tensor "a": .*hold 4 bytes but F32\[2\] needs 8/);
  rejects(build({ a: entry('F32', [1], [0, 4]) }, 2), /tensor "a": .*run past the 2-byte data region/);
  rejects(build({ a: entry('F32', [1], [0, 4]), b: entry('F32', [1], [2, 6]) }, 6), /tensor "b": .*overlap tensor "a"/);
  rejects(build({ a: entry('F32', [1], [0, 4]), b: entry('F32', [1], [8, 12]) }, 12), /tensor "b": .*hole of 4 bytes/);
  rejects(build({ a: entry('F32', [1], [4, 8]) }, 8), /tensor "a": .*hole/);
  rejects(build({ a: entry('F32', [1], [0, 4]) }, 9), /5 bytes after the last tensor/);
  // JSON.parse keeps the last of duplicate keys; the bytes the first one claimed then show up as a hole.
  const dup = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
  rejects(build(dup, 8), /tensor "a": .*hole of 4 bytes/);
  rejects(build({ __metadata__: { k: 1 } }), /__metadata__\["k"\] is 1, not a string/);
  rejects(build({ __metadata__: [] }), /__metadata__ is not an object/);
  // Accepted edge cases: null metadata, an empty file body, zero-size tensors sharing an offset.
  assert.deepEqual(readSafetensorsBuffer(build({ __metadata__: null })).keys(), []);
  const z = readSafetensorsBuffer(build({ a: entry('F32', [0], [0, 0]), b: entry('I64', [0, 2], [0, 0]) }));
  assert.deepEqual(z.read('b').shape, [0, 2]);
  assert.throws(() => z.read('nope'), /<buffer>: no tensor "nope"/);
});

test('U8/I8/I16/U16 widen to int32 and U32 to int64 on read', () => {
  const data = Uint8Array.of(255, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
  const r = readSafetensorsBuffer(build({
    u8: entry('U8', [1], [0, 1]), i8: entry('I8', [1], [1, 2]), i16: entry('I16', [1], [2, 4]),
    u16: entry('U16', [1], [4, 6]), u32: entry('U32', [1], [6, 10]),
  }, data));
  assert.deepEqual([r.read('u8').data[0], r.read('i8').data[0], r.read('i16').data[0], r.read('u16').data[0]], [255, -128, -1, 65535]);
  assert.deepEqual([r.info('u16').dtype, r.info('u16').code], ['int32', 'U16']);
  assert.deepEqual(r.read('u32').data, BigInt64Array.of(4294967295n));
});

test('a missing file gives a SafetensorsError with its path', () => {
  assert.throws(() => openSafetensors(join(tmp, 'nope.safetensors')), /nope\.safetensors: cannot open/);
  assert.ok(!existsSync(join(tmp, 'nope.safetensors')));
  writeFileSync(join(tmp, 'short.safetensors'), Uint8Array.of(1, 2, 3));
  assert.throws(() => openSafetensors(join(tmp, 'short.safetensors')), /short\.safetensors: file is 3 bytes/);
  assert.throws(() => openSafetensors(tmp), /not a regular file/);
});

// --- fuzz: seeded mutations of a valid file ---

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(src: Uint8Array, rand: () => number): { bytes: Uint8Array; kind: string; dataByte?: number } {
  const int = (n: number) => Math.floor(rand() * n);
  const headerLen = Number(new DataView(src.buffer, src.byteOffset).getBigUint64(0, true));
  const bytes = src.slice();
  const kind = ['flip', 'byte', 'length', 'truncate', 'offsets', 'append', 'data', 'entry'][int(8)]!;
  const rewrite = (edit: (h: Record<string, Record<string, unknown>>) => void) => {
    const h = JSON.parse(new TextDecoder().decode(src.subarray(8, 8 + headerLen))) as Record<string, Record<string, unknown>>;
    edit(h);
    const keys = Object.keys(h);
    const [json, data] = [new TextEncoder().encode(JSON.stringify(h)), src.subarray(8 + headerLen)];
    const out = new Uint8Array(8 + json.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    out.set(data, 8 + json.length);
    return { bytes: out, kind: `${kind}:${keys.length}` };
  };
  const pickTensor = (h: Record<string, Record<string, unknown>>) => {
    const keys = Object.keys(h).filter((k) => k !== '__metadata__');
    return h[keys[int(keys.length)]!]!;
  };
  switch (kind) {
    case 'flip': { const i = 8 + int(headerLen); bytes[i]! ^= 1 << int(8); return { bytes, kind }; }
    case 'byte': { bytes[8 + int(headerLen)] = int(256); return { bytes, kind }; }
    case 'length': {
      const v = [BigInt(headerLen + int(33) - 16), BigInt(int(src.length + 16)), 2n ** BigInt(20 + int(44))][int(3)]!;
      new DataView(bytes.buffer).setBigUint64(0, v < 0n ? 0n : v, true);
      return { bytes, kind };
    }
    case 'truncate': return { bytes: src.slice(0, int(src.length)), kind };
    case 'append': { const extra = Uint8Array.from({ length: 1 + int(16) }, () => int(256)); const out = new Uint8Array(src.length + extra.length); out.set(src); out.set(extra, src.length); return { bytes: out, kind }; }
    case 'data': { const i = 8 + headerLen + int(src.length - 8 - headerLen); bytes[i]! ^= 1 + int(255); return { bytes, kind, dataByte: i }; }
    case 'offsets': return rewrite((h) => {
      const offs = pickTensor(h).data_offsets as number[];
      const j = int(2);
      offs[j] = rand() < 0.8 ? Math.max(0, offs[j]! + int(33) - 16) : [-1, 1.5, 2 ** 60, src.length][int(4)]!;
    });
    case 'entry': return rewrite((h) => {
      const t = pickTensor(h);
      const what = int(4);
      if (what === 0) t.dtype = ['F32', 'F64', 'F16', 'BF16', 'I32', 'I64', 'BOOL', 'U8', 'X'][int(9)];
      else if (what === 1) t.shape = (t.shape as number[]).map((d) => (rand() < 0.5 ? d : int(5)));
      else if (what === 2) delete t[['dtype', 'shape', 'data_offsets'][int(3)]!];
      else h[`extra${int(3)}`] = { dtype: 'F32', shape: [0], data_offsets: [int(64), int(64)] };
    });
  }
  throw new Error(`unreachable ${kind}`);
}

test('fuzz: 400 seeded corruptions are each rejected cleanly or read correctly', (t) => {
  const bases: Uint8Array[] = [encodeSafetensors(sample(), { format: 'pt' })];
  const dir = hfFixture('llava-clip-llama');
  if (dir) bases.push(new Uint8Array(readFileSync(join(dir, 'io.safetensors'))));
  const rand = mulberry32(1234);
  const stats = { rejected: 0, accepted: 0, checked: 0, viaFile: 0 };
  for (let iter = 0; iter < 400; iter++) {
    const base = bases[iter % bases.length]!;
    const orig = readSafetensorsBuffer(base);
    const { bytes, kind, dataByte } = mutate(base, rand);
    let r: SafetensorsReader;
    try {
      if (iter % 20 === 0) {
        const p = join(tmp, `fuzz-${iter}.safetensors`);
        writeFileSync(p, bytes);
        stats.viaFile++;
        r = openSafetensors(p);
      } else {
        r = readSafetensorsBuffer(bytes);
      }
    } catch (err) {
      assert.ok(err instanceof SafetensorsError, `iter ${iter} (${kind}): ${String(err)}`);
      assert.ok(kind !== 'data', `iter ${iter}: a data-byte change must not make the header invalid`);
      stats.rejected++;
      continue;
    }
    stats.accepted++;
    for (const key of r.keys()) {
      const got = r.read(key);
      const info = r.info(key);
      assert.equal(got.data.length, info.shape.reduce((a, b) => a * b, 1), `iter ${iter} (${kind}) ${key}`);
      if (!orig.has(key)) continue;
      const was = orig.info(key);
      const sameEntry = was.code === info.code && was.begin === info.begin && was.end === info.end &&
        JSON.stringify(was.shape) === JSON.stringify(info.shape);
      const untouched = sameEntry && bytes.subarray(was.begin, was.end).every((b, i) => b === base[was.begin + i]);
      if (untouched) {
        assert.deepEqual(bytesOf(got.data), bytesOf(orig.read(key).data), `iter ${iter} (${kind}) ${key}`);
        stats.checked++;
      } else if (kind === 'data') {
        assert.ok(dataByte! >= was.begin && dataByte! < was.end, `iter ${iter}: only the tensor holding the flipped byte changes`);
      }
    }
    r.close();
  }
  t.diagnostic(JSON.stringify(stats));
  assert.ok(stats.rejected > 100 && stats.accepted > 50 && stats.viaFile === 20, JSON.stringify(stats));
});
