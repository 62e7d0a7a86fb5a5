// Hugging Face checkpoint folders: one `model.safetensors`, or shards `model-00001-of-0000N.safetensors` listed by
// `model.safetensors.index.json` (`{"metadata": {"total_size": bytes}, "weight_map": {key: shard file}}`), as
// transformers' `save_pretrained` writes them (modeling_utils, huggingface_hub `split_torch_state_dict_into_shards`).
// `openCheckpoint` gives one lazy reader over every key; the index is checked against the shards, so a missing
// shard, a key the index promises but the shard lacks, a key the index does not list, or a key held by two shards
// is a SafetensorsError naming the files and the key.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { basename, isAbsolute, join, normalize, sep } from 'node:path';
import { openSafetensors, SafetensorsError, writeSafetensors } from './safetensors.ts';
import type { SafetensorsReader, TensorData, TensorInfo } from './safetensors.ts';
import { writeFileAtomic } from './atomic.ts';

export const singleFileName = 'model.safetensors';
export const indexFileName = 'model.safetensors.index.json';
const shardPattern = /^model-\d{5}-of-\d{5}\.safetensors$/;

export interface CheckpointReader {
  readonly dir: string;
  /** Keys in shard order, then file order within a shard. */
  keys(): string[];
  has(key: string): boolean;
  info(key: string): TensorInfo;
  read(key: string): TensorData;
  readFloat32(key: string): Float32Array;
  /** Path of the file that holds `key`. */
  fileOf(key: string): string;
  close(): void;
}

/** Opens a checkpoint folder (or a single .safetensors file). `model.safetensors` wins over an index, as in transformers. */
export function openCheckpoint(dir: string): CheckpointReader {
  if (dir.endsWith('.safetensors') && existsSync(dir) && statSync(dir).isFile()) return overReaders(dir, [openSafetensors(dir)]);
  const single = join(dir, singleFileName);
  if (existsSync(single)) return overReaders(dir, [openSafetensors(single)]);
  const index = join(dir, indexFileName);
  if (!existsSync(index)) throw new SafetensorsError(`${dir}: neither ${singleFileName} nor ${indexFileName} found`);
  return openSharded(dir, index);
}

function openSharded(dir: string, indexPath: string): CheckpointReader {
  const byShard = readWeightMap(indexPath);
  const readers: SafetensorsReader[] = [];
  try {
    for (const [shard, keys] of byShard) {
      const path = join(dir, shard);
      if (!existsSync(path)) throw new SafetensorsError(`${indexPath}: shard "${shard}" (listed for key "${keys[0]}") not found at ${path}`);
      const r = openSafetensors(path);
      readers.push(r);
      for (const k of keys) {
        if (!r.has(k)) throw new SafetensorsError(`${path}: key "${k}" is listed in ${indexPath} but absent from this shard`);
      }
      const listed = new Set(keys);
      for (const k of r.keys()) {
        if (!listed.has(k)) {
          const owner = [...byShard].find(([, ks]) => ks.includes(k))?.[0];
          throw new SafetensorsError(owner
            ? `${path}: key "${k}" is also in shard "${owner}" (duplicate key across shards)`
            : `${path}: key "${k}" is in this shard but not listed in ${indexPath}`);
        }
      }
    }
    return overReaders(dir, readers);
  } catch (err) {
    for (const r of readers) r.close();
    throw err;
  }
}

/** Parses the index into shard file → keys, in first-appearance order of the shards. */
function readWeightMap(indexPath: string): Map<string, string[]> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (err) {
    throw new SafetensorsError(`${indexPath}: not valid JSON (${(err as Error).message})`);
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new SafetensorsError(`${indexPath}: "weight_map" is not an object`);
  const byShard = new Map<string, string[]>();
  for (const [key, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || shard === '') throw new SafetensorsError(`${indexPath}: weight_map["${key}"] is ${JSON.stringify(shard)}, not a file name`);
    // Shards must sit inside the checkpoint folder; an index must not point the loader at arbitrary files.
    if (isAbsolute(shard) || normalize(shard).split(sep).includes('..')) throw new SafetensorsError(`${indexPath}: weight_map["${key}"] = "${shard}" leaves the checkpoint folder`);
    const keys = byShard.get(shard) ?? [];
    keys.push(key);
    byShard.set(shard, keys);
  }
  return byShard;
}

function overReaders(dir: string, readers: SafetensorsReader[]): CheckpointReader {
  const owner = new Map<string, SafetensorsReader>();
  for (const r of readers) for (const k of r.keys()) owner.set(k, r);
  const of = (key: string): SafetensorsReader => {
    const r = owner.get(key);
    if (!r) throw new SafetensorsError(`${dir}: checkpoint has no tensor "${key}"`);
    return r;
  };
  return {
    dir,
    keys: () => [...owner.keys()],
    has: (key) => owner.has(key),
    info: (key) => of(key).info(key),
    read: (key) => of(key).read(key),
    readFloat32: (key) => of(key).readFloat32(key),
    fileOf: (key) => of(key).path,
    close() { for (const r of readers) r.close(); },
  };
}

export interface ShardedWrite {
  /** File names written, in order (one `model.safetensors` when everything fits in one shard). */
  files: string[];
  totalSize: number;
}

/**
 * Writes `tensors` as transformers does: shards of at most `maxShardBytes` filled greedily in key order (a tensor
 * bigger than the limit gets a shard to itself), each with `{"format": "pt"}` metadata, then the index. When
 * everything fits in one shard, transformers writes a plain `model.safetensors` and no index; so do we. Stale shards
 * and a stale index or single file from an earlier save in the same folder are removed afterwards.
 */
export function writeShardedCheckpoint(dir: string, tensors: Record<string, TensorData>, maxShardBytes: number): ShardedWrite {
  if (!(maxShardBytes > 0)) throw new SafetensorsError(`writeShardedCheckpoint: maxShardBytes must be positive, got ${maxShardBytes}`);
  mkdirSync(dir, { recursive: true });
  const shards: Record<string, TensorData>[] = [];
  let current: Record<string, TensorData> = {};
  let currentBytes = 0;
  let totalSize = 0;
  for (const [key, t] of Object.entries(tensors)) {
    const n = t.data.byteLength;
    if (currentBytes > 0 && currentBytes + n > maxShardBytes) {
      shards.push(current);
      current = {};
      currentBytes = 0;
    }
    current[key] = t;
    currentBytes += n;
    totalSize += n;
  }
  shards.push(current);

  const pad = (i: number) => String(i).padStart(5, '0');
  const files = shards.length === 1 ? [singleFileName] : shards.map((_, i) => `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`);
  shards.forEach((s, i) => writeSafetensors(join(dir, files[i]!), s, { format: 'pt' }));
  if (shards.length > 1) {
    const weightMap: Record<string, string> = {};
    const entries = shards.flatMap((s, i) => Object.keys(s).map((k) => [k, files[i]!] as const));
    for (const [k, f] of entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) weightMap[k] = f;
    const index = `${JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2)}\n`;
    writeFileAtomic(join(dir, indexFileName), [new TextEncoder().encode(index)]);
  }
  const keep = new Set(files);
  for (const name of readdirSync(dir)) {
    const stale = shardPattern.test(name) || (name === singleFileName && shards.length > 1) || (name === indexFileName && shards.length === 1);
    if (stale && !keep.has(name) && basename(name) === name) unlinkSync(join(dir, name));
  }
  return { files, totalSize };
}
