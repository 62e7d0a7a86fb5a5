// Safetensors read/write. Format (huggingface/safetensors README): an 8-byte little-endian u64 header length N,
// N bytes of UTF-8 JSON `{key: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}}`
// padded with spaces, then the data region. Offsets are relative to the data region. The checks follow the
// reference Rust crate (safetensors/src/tensor.rs, `read_metadata` + `Metadata::validate`): header ≤ 100 MB,
// tensors sorted by offset must tile the data region exactly (no overlap, no hole), end - begin = numel·itemsize,
// and the data region must end exactly at the end of the file (trailing bytes are rejected, as Rust does).
//
// Reading is lazy: opening parses only the header; each tensor is read on demand with positional reads, so a
// many-GB file is never loaded whole. Every failure is a SafetensorsError naming the file and, where there is
// one, the tensor key.
//
// Dtypes: F32 F64 F16 BF16 I32 I64 BOOL map to tessera's DType (F16/BF16 stay raw Uint16Array bits). U8, I8,
// I16 and U16 are widened losslessly to int32 and U32 to int64 on read (`info().code` keeps the file's code).
// Other codes the Rust crate knows (F8_*, F4, F6_*, U64, C64) and unknown strings are rejected at open.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import { allocStorage, toFloat32 } from '../tensor/dtype.ts';
import type { DType, StorageOf } from '../tensor/dtype.ts';
import { writeFileAtomic } from './atomic.ts';

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** The on-disk dtype codes tessera reads. */
export type SafetensorsCode = 'F32' | 'F64' | 'F16' | 'BF16' | 'I32' | 'I64' | 'BOOL' | 'U8' | 'I8' | 'I16' | 'U16' | 'U32';

const codeSpec: Readonly<Record<SafetensorsCode, { bytes: number; dtype: DType }>> = {
  F32: { bytes: 4, dtype: 'float32' }, F64: { bytes: 8, dtype: 'float64' },
  F16: { bytes: 2, dtype: 'float16' }, BF16: { bytes: 2, dtype: 'bfloat16' },
  I32: { bytes: 4, dtype: 'int32' }, I64: { bytes: 8, dtype: 'int64' }, BOOL: { bytes: 1, dtype: 'bool' },
  U8: { bytes: 1, dtype: 'int32' }, I8: { bytes: 1, dtype: 'int32' }, I16: { bytes: 2, dtype: 'int32' },
  U16: { bytes: 2, dtype: 'int32' }, U32: { bytes: 4, dtype: 'int64' },
};
const knownButUnsupported = new Set(['F4', 'F6_E2M3', 'F6_E3M2', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0',
  'F8_E4M3FNUZ', 'F8_E5M2FNUZ', 'U64', 'C64']);

export const codeOf: Readonly<Record<DType, SafetensorsCode>> = {
  float32: 'F32', float64: 'F64', float16: 'F16', bfloat16: 'BF16', int32: 'I32', int64: 'I64', bool: 'BOOL',
};

/** A tensor as plain data; `data` is the storage typed array of its dtype. */
export type TensorData = { [D in DType]: { dtype: D; shape: number[]; data: StorageOf[D] } }[DType];

/** Where a tensor lives. `begin`/`end` are absolute byte offsets in the file (not data-region relative). */
export interface TensorInfo {
  dtype: DType;
  code: SafetensorsCode;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsReader {
  readonly path: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** Keys in file (offset) order. */
  keys(): string[];
  has(key: string): boolean;
  info(key: string): TensorInfo;
  read(key: string): TensorData;
  readFloat32(key: string): Float32Array;
  close(): void;
}

export const maxHeaderBytes = 100_000_000;

// --- reading ---

interface ByteSource {
  size: number;
  readAt(pos: number, len: number): Uint8Array;
  close(): void;
}

/** Opens a safetensors file lazily: only the header is read now. */
export function openSafetensors(path: string): SafetensorsReader {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new SafetensorsError(`${path}: cannot open (${(err as Error).message})`);
  }
  const stat = fstatSync(fd);
  if (!stat.isFile()) {
    closeSync(fd);
    throw new SafetensorsError(`${path}: not a regular file`);
  }
  const source: ByteSource = {
    size: stat.size,
    readAt(pos, len) {
      const out = allocBytes(path, len);
      let done = 0;
      while (done < len) {
        const n = readSync(fd, out, done, Math.min(len - done, 1 << 30), pos + done);
        if (n === 0) throw new SafetensorsError(`${path}: file ended at byte ${pos + done}, expected ${pos + len} (truncated while open?)`);
        done += n;
      }
      return out;
    },
    close() { closeSync(fd); },
  };
  try {
    return makeReader(path, source);
  } catch (err) {
    source.close();
    throw err;
  }
}

/** Reads safetensors bytes already in memory (each tensor is copied out, so the result owns aligned storage). */
export function readSafetensorsBuffer(bytes: Uint8Array, name = '<buffer>'): SafetensorsReader {
  return makeReader(name, {
    size: bytes.byteLength,
    readAt: (pos, len) => bytes.slice(pos, pos + len),
    close() { /* nothing held */ },
  });
}

function allocBytes(name: string, len: number): Uint8Array {
  try {
    return new Uint8Array(len);
  } catch {
    throw new SafetensorsError(`${name}: cannot allocate ${len} bytes`);
  }
}

function makeReader(name: string, source: ByteSource): SafetensorsReader {
  if (endianness() !== 'LE') throw new SafetensorsError('safetensors: big-endian hosts are not supported');
  const { tensors, metadata } = parseHeader(name, source);
  let open = true;
  const infoOf = (key: string): TensorInfo => {
    const info = tensors.get(key);
    if (!info) throw new SafetensorsError(`${name}: no tensor "${key}" (the file has ${tensors.size})`);
    return info;
  };
  const read = (key: string): TensorData => {
    const info = infoOf(key);
    if (!open) throw new SafetensorsError(`${name}: tensor "${key}" read after close()`);
    const bytes = source.readAt(info.begin, info.end - info.begin);
    return { dtype: info.dtype, shape: [...info.shape], data: decode(info.code, bytes) } as TensorData;
  };
  return {
    path: name,
    metadata,
    keys: () => [...tensors.keys()],
    has: (key) => tensors.has(key),
    info: (key) => { const i = infoOf(key); return { ...i, shape: [...i.shape] }; },
    read,
    readFloat32: (key) => { const t = read(key); return toFloat32(t.dtype, t.data); },
    close() {
      if (open) source.close();
      open = false;
    },
  };
}

function decode(code: SafetensorsCode, bytes: Uint8Array): TensorData['data'] {
  const b = bytes.buffer;
  switch (code) {
    case 'F32': return new Float32Array(b);
    case 'F64': return new Float64Array(b);
    case 'F16': case 'BF16': return new Uint16Array(b);
    case 'I32': return new Int32Array(b);
    case 'I64': return new BigInt64Array(b);
    case 'BOOL': return bytes;
    case 'U8': return Int32Array.from(bytes);
    case 'I8': return Int32Array.from(new Int8Array(b));
    case 'I16': return Int32Array.from(new Int16Array(b));
    case 'U16': return Int32Array.from(new Uint16Array(b));
    case 'U32': {
      const src = new Uint32Array(b);
      const out = allocStorage('int64', src.length);
      for (let i = 0; i < src.length; i++) out[i] = BigInt(src[i]!);
      return out;
    }
  }
}

function parseHeader(name: string, source: ByteSource): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  const fail = (msg: string): never => { throw new SafetensorsError(`${name}: ${msg}`); };
  if (source.size < 8) fail(`file is ${source.size} bytes, too short for the 8-byte header length`);
  const lenBig = new DataView(source.readAt(0, 8).buffer).getBigUint64(0, true);
  if (lenBig > BigInt(maxHeaderBytes)) fail(`header length ${lenBig} is larger than the ${maxHeaderBytes}-byte limit (corrupt file?)`);
  const headerLen = Number(lenBig);
  if (8 + headerLen > source.size) fail(`header length ${headerLen} runs past the end of the ${source.size}-byte file (truncated?)`);
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(source.readAt(8, headerLen));
  } catch {
    fail('header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(json)) fail('header JSON is not an object');
  const dataStart = 8 + headerLen;
  const dataSize = source.size - dataStart;
  let metadata: Record<string, string> = {};
  const entries: [string, TensorInfo][] = [];
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    if (key === '__metadata__') metadata = parseMetadata(name, value);
    else entries.push([key, parseEntry(name, key, value, dataStart)]);
  }
  // Rust sorts by data_offsets and then requires each tensor to start where the previous one ended.
  entries.sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let cursor = dataStart;
  let prev = '';
  for (const [key, info] of entries) {
    const rel = `[${info.begin - dataStart}, ${info.end - dataStart}]`;
    if (info.begin < cursor) fail(`tensor "${key}": data_offsets ${rel} overlap tensor "${prev}"`);
    if (info.begin > cursor) fail(`tensor "${key}": data_offsets ${rel} leave a hole of ${info.begin - cursor} bytes before it`);
    if (info.end > source.size) fail(`tensor "${key}": data_offsets ${rel} run past the ${dataSize}-byte data region (truncated?)`);
    cursor = info.end;
    prev = key;
  }
  if (cursor !== source.size) fail(`${source.size - cursor} bytes after the last tensor are not covered by the header`);
  return { tensors: new Map(entries), metadata };
}

function parseEntry(name: string, key: string, value: unknown, dataStart: number): TensorInfo {
  const fail = (msg: string): never => { throw new SafetensorsError(`${name}: tensor "${key}": ${msg}`); };
  if (!isPlainObject(value)) fail('header entry is not an object');
  const { dtype: code, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof code !== 'string') fail(`dtype ${JSON.stringify(code)} is not a string`);
  const spec = codeSpec[code as SafetensorsCode];
  if (!Object.hasOwn(codeSpec, code as string) || !spec) {
    fail(knownButUnsupported.has(code as string) ? `dtype ${code as string} is not supported by tessera` : `unknown dtype ${JSON.stringify(code)}`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`shape ${JSON.stringify(shape)} is not an array of non-negative integers`);
  }
  let numel = 1;
  for (const d of shape as number[]) {
    numel *= d;
    if (!Number.isSafeInteger(numel)) fail(`shape ${JSON.stringify(shape)} has too many elements`);
  }
  const nbytes = numel * spec!.bytes;
  if (!Number.isSafeInteger(nbytes)) fail(`shape ${JSON.stringify(shape)} has too many bytes`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
    fail(`data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 <= begin <= end`);
  }
  const [begin, end] = offsets as [number, number];
  if (end - begin !== nbytes) {
    fail(`data_offsets [${begin}, ${end}] hold ${end - begin} bytes but ${code as string}${JSON.stringify(shape)} needs ${nbytes}`);
  }
  return { dtype: spec!.dtype, code: code as SafetensorsCode, shape: [...(shape as number[])], begin: dataStart + begin, end: dataStart + end };
}

function parseMetadata(name: string, value: unknown): Record<string, string> {
  if (value === null) return {}; // Rust reads `Option<HashMap>`, so null means absent
  if (!isPlainObject(value)) throw new SafetensorsError(`${name}: __metadata__ is not an object`);
  const entries = Object.entries(value as Record<string, unknown>);
  for (const [k, v] of entries) {
    if (typeof v !== 'string') throw new SafetensorsError(`${name}: __metadata__["${k}"] is ${JSON.stringify(v)}, not a string`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

function isPlainObject(v: unknown): v is object {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// --- writing ---

// Position of each code in the Rust `Dtype` enum, which is declared in increasing alignment. The Python writer
// sorts tensors by this rank, descending, then by name (Rust byte order of UTF-8), and we do the same so both
// writers produce identical bytes.
const rustRank: Readonly<Record<DType, number>> = {
  bool: 0, float16: 13, bfloat16: 14, int32: 15, float32: 17, float64: 19, int64: 20,
};
const storageClass = {
  float32: Float32Array, float64: Float64Array, float16: Uint16Array, bfloat16: Uint16Array,
  int32: Int32Array, int64: BigInt64Array, bool: Uint8Array,
} as const;

/** Header bytes (length prefix + padded JSON) and the tensor byte views, in file order. */
function prepare(tensors: Record<string, TensorData>, metadata?: Record<string, string>): Uint8Array[] {
  if (endianness() !== 'LE') throw new SafetensorsError('safetensors: big-endian hosts are not supported');
  const enc = new TextEncoder();
  const named = Object.entries(tensors).map(([key, t]) => {
    checkTensor(key, t);
    return { key, t, keyBytes: enc.encode(key) };
  });
  named.sort((a, b) => rustRank[b.t.dtype] - rustRank[a.t.dtype] || Buffer.compare(a.keyBytes, b.keyBytes));
  // Built by hand, not JSON.stringify of an object: JS would move integer-like keys ("0", "12") to the front.
  const parts: string[] = [];
  if (metadata !== undefined) {
    const meta = Object.entries(metadata).map(([k, v]) => {
      if (typeof v !== 'string') throw new SafetensorsError(`safetensors write: metadata["${k}"] is not a string`);
      return `${JSON.stringify(k)}:${JSON.stringify(v)}`;
    });
    parts.push(`"__metadata__":{${meta.join(',')}}`);
  }
  let offset = 0;
  for (const { key, t } of named) {
    const end = offset + t.data.byteLength;
    parts.push(`${JSON.stringify(key)}:{"dtype":"${codeOf[t.dtype]}","shape":${JSON.stringify(t.shape)},"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = enc.encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded > maxHeaderBytes) throw new SafetensorsError(`safetensors write: header of ${padded} bytes exceeds the ${maxHeaderBytes}-byte limit`);
  const head = new Uint8Array(8 + padded).fill(0x20, 8 + json.byteLength);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  return [head, ...named.map(({ t }) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))];
}

function checkTensor(key: string, t: TensorData): void {
  const fail = (msg: string): never => { throw new SafetensorsError(`safetensors write: tensor "${key}": ${msg}`); };
  if (key === '__metadata__') fail('this key is reserved for metadata');
  if (!Object.hasOwn(storageClass, t.dtype)) fail(`unknown dtype ${JSON.stringify(t.dtype)}`);
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`bad shape ${JSON.stringify(t.shape)}`);
  if (!(t.data instanceof storageClass[t.dtype])) fail(`data is a ${t.data?.constructor?.name}, ${t.dtype} needs a ${storageClass[t.dtype].name}`);
  const numel = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== numel) fail(`data has ${t.data.length} elements, shape ${JSON.stringify(t.shape)} needs ${numel}`);
}

/** The whole file as one buffer (for small files and tests). */
export function encodeSafetensors(tensors: Record<string, TensorData>, metadata?: Record<string, string>): Uint8Array {
  const chunks = prepare(tensors, metadata);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.byteLength; }
  return out;
}

/** Writes a safetensors file atomically, streaming each tensor's bytes straight from its storage. */
export function writeSafetensors(path: string, tensors: Record<string, TensorData>, metadata?: Record<string, string>): void {
  writeFileAtomic(path, prepare(tensors, metadata));
}
