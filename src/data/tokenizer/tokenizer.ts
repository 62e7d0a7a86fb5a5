// Tokenizer: a typed wrapper around @huggingface/tokenizers (tokenizers.js), loading a Hugging Face
// `tokenizer.json` plus the optional `tokenizer_config.json` (bos/eos/pad/unk names, chat_template).
// The library's own types resolve to `any` under nodenext; that untyped surface is confined to
// `LibTokenizer` below, and the rest of tessera sees only this file's interfaces.
// Parity: checked against `tokenizers` 0.23 / PreTrainedTokenizerFast on fixtures/hf/tokenizers
// (ids, tokens, ids with specials, decode with and without specials, for ByteLevel and Llama-style BPE).
// Offsets are not produced by tokenizers.js; `offsets.ts` reconstructs them (Rust char offsets).
import { readFileSync, existsSync, statSync } from 'node:fs';
import { join, dirname, basename } from 'node:path';
import * as lib from '@huggingface/tokenizers';
import { tokenOffsets, type OffsetPipeline } from './offsets.ts';

/** One encoded text. `offsets[i]` is the [start, end) range of token i in the input, in code points. */
export interface Encoding {
  ids: number[];
  tokens: string[];
  /** Absent when the pipeline is one `offsets.ts` cannot align (see there). Template-added specials get [0, 0]. */
  offsets?: Array<[number, number]>;
}

export interface EncodeOptions {
  /** Apply the post-processor template (e.g. prepend `<s>`). Default true, as in Hugging Face. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop tokens marked `special` in added_tokens. Default false. */
  skipSpecialTokens?: boolean;
}

/** Ids of the special tokens this tokenizer knows; absent when the vocabulary has none. */
export interface SpecialTokenIds {
  bos?: number;
  eos?: number;
  pad?: number;
  unk?: number;
  image?: number;
  audio?: number;
}

/** The subset of tokenizer_config.json that tessera reads. */
export interface TokenizerConfig {
  bos_token?: string | null;
  eos_token?: string | null;
  pad_token?: string | null;
  unk_token?: string | null;
  chat_template?: string | null;
  padding_side?: string;
  [key: string]: unknown;
}

interface AddedTokenJson {
  id: number;
  content: string;
  special: boolean;
}

// The untyped library surface (FFI-like glue): everything `any` stops here.
interface LibTokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): { ids: number[]; tokens: string[] };
  decode(ids: number[], options: { skip_special_tokens: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_vocab(withAddedTokens: boolean): Map<string, number>;
}
const LibTokenizerCtor = (lib as unknown as { Tokenizer: new (json: object, config: object) => LibTokenizer }).Tokenizer;

// Config values may be a plain string or an AddedToken dict ({content: "<s>", ...}) in older files.
function tokenName(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') {
    return (v as { content: string }).content;
  }
  return undefined;
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`tokenizer: cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`tokenizer: ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

export class Tokenizer {
  readonly bosToken: string | undefined;
  readonly eosToken: string | undefined;
  readonly padToken: string | undefined;
  readonly unkToken: string | undefined;
  readonly chatTemplate: string | undefined;
  /** tokenizer_config.json `padding_side`; Hugging Face's default is right. */
  readonly paddingSide: 'left' | 'right';
  readonly specialIds: Readonly<SpecialTokenIds>;
  /** Size of the id space: base vocabulary plus added tokens (max id + 1). */
  readonly vocabSize: number;
  private readonly inner: LibTokenizer;
  private readonly addedTokens: ReadonlyMap<number, AddedTokenJson>;
  private readonly pipeline: OffsetPipeline;

  private constructor(json: Record<string, unknown>, config: TokenizerConfig, source: string) {
    if (json.model === undefined || typeof json.model !== 'object') {
      throw new Error(`tokenizer: ${source} has no "model" section; is it a tokenizer.json?`);
    }
    try {
      this.inner = new LibTokenizerCtor(json, config);
    } catch (e) {
      throw new Error(`tokenizer: cannot build tokenizer from ${source}: ${(e as Error).message}`);
    }
    const added = Array.isArray(json.added_tokens) ? (json.added_tokens as AddedTokenJson[]) : [];
    this.addedTokens = new Map(added.map((t) => [t.id, t]));
    this.pipeline = { json, addedTokens: added };

    this.bosToken = tokenName(config.bos_token);
    this.eosToken = tokenName(config.eos_token);
    this.padToken = tokenName(config.pad_token);
    this.unkToken = tokenName(config.unk_token) ?? tokenName((json.model as { unk_token?: unknown }).unk_token);
    this.chatTemplate = typeof config.chat_template === 'string' ? config.chat_template : undefined;
    this.paddingSide = config.padding_side === 'left' ? 'left' : 'right';

    const ids: SpecialTokenIds = {};
    const put = (key: keyof SpecialTokenIds, name: string | undefined): void => {
      const id = name === undefined ? undefined : this.inner.token_to_id(name);
      if (id !== undefined) ids[key] = id;
    };
    put('bos', this.bosToken);
    put('eos', this.eosToken);
    put('pad', this.padToken);
    put('unk', this.unkToken);
    put('image', ['<image>', '<|image_pad|>', '<|image|>', '<IMG_CONTEXT>'].find((n) => this.inner.token_to_id(n) !== undefined));
    put('audio', ['<audio>', '<|AUDIO|>', '<|audio_pad|>'].find((n) => this.inner.token_to_id(n) !== undefined));
    this.specialIds = Object.freeze(ids);

    let maxId = -1;
    for (const id of this.inner.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
  }

  /** Build from parsed tokenizer.json (and tokenizer_config.json) objects. */
  static fromJson(tokenizerJson: unknown, config: TokenizerConfig = {}, source = '<json>'): Tokenizer {
    if (tokenizerJson === null || typeof tokenizerJson !== 'object' || Array.isArray(tokenizerJson)) {
      throw new Error(`tokenizer: ${source} must hold a JSON object`);
    }
    return new Tokenizer(tokenizerJson as Record<string, unknown>, config, source);
  }

  /**
   * Load from a folder holding tokenizer.json (+ tokenizer_config.json), or from a tokenizer.json path.
   * @example const tok = Tokenizer.fromFile('models/llava'); tok.encode('hi').ids
   */
  static fromFile(path: string): Tokenizer {
    if (!existsSync(path)) throw new Error(`tokenizer: ${path} does not exist`);
    const isDir = statSync(path).isDirectory();
    const dir = isDir ? path : dirname(path);
    const jsonPath = isDir ? join(path, 'tokenizer.json') : path;
    if (isDir && !existsSync(jsonPath)) throw new Error(`tokenizer: ${path} has no tokenizer.json`);
    const configPath = join(dir, 'tokenizer_config.json');
    const config = existsSync(configPath) && basename(jsonPath) !== 'tokenizer_config.json'
      ? (readJson(configPath) as TokenizerConfig)
      : {};
    return Tokenizer.fromJson(readJson(jsonPath), config, jsonPath);
  }

  /** The ids of `encode` alone, without the work of finding each token's character offsets. */
  encodeIds(text: string, options: EncodeOptions = {}): number[] {
    return Array.from(this.inner.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids);
  }

  encode(text: string, options: EncodeOptions = {}): Encoding {
    const addSpecialTokens = options.addSpecialTokens ?? true;
    const enc = this.inner.encode(text, { add_special_tokens: addSpecialTokens });
    const ids = Array.from(enc.ids);
    const tokens = Array.from(enc.tokens);
    const plain = addSpecialTokens ? this.inner.encode(text, { add_special_tokens: false }) : enc;
    const plainOffsets = tokenOffsets(this.pipeline, text, Array.from(plain.ids), Array.from(plain.tokens));
    if (plainOffsets === undefined) return { ids, tokens };
    if (!addSpecialTokens) return { ids, tokens, offsets: plainOffsets };
    // The post-processor only wraps the plain ids (single-sequence templates), so find them inside.
    const n = plain.ids.length;
    let at = 0;
    while (at + n <= ids.length && !plain.ids.every((id, k) => ids[at + k] === id)) at++;
    if (at + n > ids.length) return { ids, tokens };
    const offsets = ids.map((_, i): [number, number] => (i >= at && i < at + n ? plainOffsets[i - at]! : [0, 0]));
    return { ids, tokens, offsets };
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new Error(`tokenizer: cannot decode id ${id}: outside [0, ${this.vocabSize})`);
      }
    }
    // tokenizers.js throws on an empty list; Hugging Face returns "".
    if (ids.length === 0) return '';
    return this.inner.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  tokenToId(token: string): number | undefined {
    return this.inner.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.inner.id_to_token(id);
  }

  /** True for added tokens flagged `special` (those `skipSpecialTokens` drops). */
  isSpecial(id: number): boolean {
    return this.addedTokens.get(id)?.special === true;
  }
}
