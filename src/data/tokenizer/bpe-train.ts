// Byte-level BPE trainer that writes a Hugging Face `tokenizer.json` in the Qwen2 layout.
//
// Pipeline (the same one `tokenizers` runs at encode time, so training sees what inference sees):
//   NFC → split by the GPT-4/Qwen2 regex (behaviour Isolated) → UTF-8 bytes → GPT-2 `bytes_to_unicode` chars
//   → count distinct words → greedy merges of the most frequent adjacent pair.
// The merge loop follows HF `tokenizers` BpeTrainer (bpe/trainer.rs): pair counts are kept incrementally, a
// max-heap holds possibly stale counts that are re-checked on pop, and ties go to the smallest (left id,
// right id). Ids 0..255 are the byte chars sorted by code point, exactly as BpeTrainer with
// `initial_alphabet=ByteLevel.alphabet()` numbers them, so on the same words both trainers make the same merges.
// Added tokens (specials and the tool-call markers) sit after the learned vocabulary, as in Qwen2.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Specials every tessera tokenizer carries, in id order (Qwen2 order first, then the media markers). */
export const defaultSpecialTokens: readonly string[] = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<image>', '<audio>'];
/**
 * Tool-call markers are added tokens with `special: false` (as in Qwen2.5): they stay single ids, and decoding
 * keeps them even with `skip_special_tokens: true`, so a tool-call parser can find them in generated text.
 */
export const defaultPlainAddedTokens: readonly string[] = ['<tool_call>', '</tool_call>'];

/** The GPT-4 / Qwen2 pre-tokenizer regex as written for Oniguruma in tokenizer.json. */
export const qwen2SplitPattern =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// Node 20 has no inline `(?i:)` groups, so the contractions are spelled out case by case.
const splitRegex = /'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

export interface ByteLevelBpeOptions {
  /** Training texts; each item is one sequence (a line, a document). */
  texts: Iterable<string>;
  /** Total vocabulary size including added tokens. Training stops earlier if no pair reaches `minFrequency`. */
  vocabSize: number;
  /** A pair must occur at least this often to be merged. Default 2. */
  minFrequency?: number;
  /**
   * Never merge two capital letters A–Z, so runs of capitals are spelled a letter at a time, as the Qwen2
   * regex already splits digits: a model reading text from an image (ocr's "RAIN", "ADKSI") then answers
   * letter by letter rather than with one token per word it happened to see. Default false (BpeTrainer's merges).
   */
  spellCapitals?: boolean;
  /** Extra special tokens, appended after `defaultSpecialTokens`. */
  specialTokens?: readonly string[];
  /** Non-special added tokens. Default `defaultPlainAddedTokens`. */
  plainAddedTokens?: readonly string[];
}

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: false;
  lstrip: false;
  rstrip: false;
  normalized: false;
  special: boolean;
}

interface ByteLevelJson {
  type: 'ByteLevel';
  add_prefix_space: false;
  trim_offsets: false;
  use_regex: false;
}

export interface TokenizerJson {
  version: '1.0';
  truncation: null;
  padding: null;
  added_tokens: AddedTokenJson[];
  normalizer: { type: 'NFC' };
  pre_tokenizer: {
    type: 'Sequence';
    pretokenizers: [
      { type: 'Split'; pattern: { Regex: string }; behavior: 'Isolated'; invert: false },
      ByteLevelJson,
    ];
  };
  post_processor: ByteLevelJson;
  decoder: ByteLevelJson;
  model: {
    type: 'BPE';
    dropout: null;
    unk_token: null;
    continuing_subword_prefix: null;
    end_of_word_suffix: null;
    fuse_unk: false;
    byte_fallback: false;
    ignore_merges: false;
    vocab: Record<string, number>;
    merges: [string, string][];
  };
}

// GPT-2 `bytes_to_unicode`: printable Latin-1 bytes map to themselves, the other 68 to U+0100 onwards.
function buildByteChars(): string[] {
  const chars: string[] = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    chars[b] = String.fromCodePoint(printable ? b : next++);
  }
  return chars;
}
export const byteChars: readonly string[] = buildByteChars();

/** Splits one text into pre-tokenized pieces (before the byte mapping), as the Split pre-tokenizer does. */
export function splitPieces(text: string): string[] {
  const t = text.normalize('NFC');
  const pieces: string[] = [];
  let last = 0;
  for (const m of t.matchAll(splitRegex)) {
    const at = m.index;
    if (at > last) pieces.push(t.slice(last, at)); // Isolated keeps unmatched stretches as their own pieces
    pieces.push(m[0]);
    last = at + m[0].length;
  }
  if (last < t.length) pieces.push(t.slice(last));
  return pieces;
}

function toByteLevel(piece: string): string {
  let out = '';
  for (const b of Buffer.from(piece, 'utf8')) out += byteChars[b];
  return out;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Counts byte-level words over all texts, cutting added tokens out first so they never join a merge. */
export function countWords(texts: Iterable<string>, addedTokens: readonly string[]): Map<string, number> {
  const cut = addedTokens.length > 0
    ? new RegExp([...addedTokens].sort((a, b) => b.length - a.length).map(escapeRegex).join('|'), 'g')
    : null;
  const pieceCounts = new Map<string, number>();
  let index = 0;
  for (const text of texts) {
    if (typeof text !== 'string') throw new Error(`trainByteLevelBpe: texts[${index}] is ${typeof text}, expected a string`);
    index++;
    for (const segment of cut ? text.split(cut) : [text]) {
      for (const piece of splitPieces(segment)) pieceCounts.set(piece, (pieceCounts.get(piece) ?? 0) + 1);
    }
  }
  // The byte mapping runs once per distinct piece rather than once per occurrence.
  const words = new Map<string, number>();
  for (const [piece, count] of pieceCounts) {
    const word = toByteLevel(piece);
    words.set(word, (words.get(word) ?? 0) + count);
  }
  return words;
}

// ---- the merge loop ----

// A pair (left, right) packs into one number; ids stay below 2^22, so the key stays an exact integer.
const pairBase = 4194304;
const pairKey = (left: number, right: number): number => left * pairBase + right;

/** Max-heap over (count desc, pair key asc): BpeTrainer's `Merge` ordering. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];
  get size(): number { return this.keys.length; }
  private above(i: number, j: number): boolean {
    const ci = this.counts[i]!, cj = this.counts[j]!;
    return ci !== cj ? ci > cj : this.keys[i]! < this.keys[j]!;
  }
  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j]!, this.counts[i]!];
    [this.keys[i], this.keys[j]] = [this.keys[j]!, this.keys[i]!];
  }
  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    for (let i = this.keys.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!this.above(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }
  pop(): { count: number; key: number } | undefined {
    if (this.keys.length === 0) return undefined;
    const top = { count: this.counts[0]!, key: this.keys[0]! };
    const lastCount = this.counts.pop()!, lastKey = this.keys.pop()!;
    if (this.keys.length > 0) {
      this.counts[0] = lastCount;
      this.keys[0] = lastKey;
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1;
        let best = i;
        if (l < this.keys.length && this.above(l, best)) best = l;
        if (r < this.keys.length && this.above(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }
}

export interface BpeModel {
  /** Token strings by id (byte chars first, then merge results). */
  tokens: string[];
  /** Merges as id pairs, in learned order. */
  merges: [number, number][];
}

const isCapital = (c: string): boolean => c >= 'A' && c <= 'Z'; // byte-level chars map ASCII to itself

/**
 * Learns merges until `targetSize` distinct tokens exist. As in BpeTrainer, a merge whose string already exists
 * (reached by another split) adds a merge but no token.
 */
export function learnMerges(wordCounts: ReadonlyMap<string, number>, targetSize: number, minFrequency: number, spellCapitals = false): BpeModel {
  const tokens = [...byteChars].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  const tokenIds = new Map(tokens.map((t, i) => [t, i] as const));
  const words: Int32Array[] = [];
  const freqs: number[] = [];
  for (const [word, count] of wordCounts) {
    words.push(Int32Array.from(Array.from(word, (c) => tokenIds.get(c)!)));
    freqs.push(count);
  }
  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  words.forEach((w, wi) => {
    for (let i = 0; i + 1 < w.length; i++) {
      const k = pairKey(w[i]!, w[i + 1]!);
      pairCounts.set(k, (pairCounts.get(k) ?? 0) + freqs[wi]!);
      let where = pairWords.get(k);
      if (!where) pairWords.set(k, (where = new Set()));
      where.add(wi);
    }
  });
  const heap = new PairHeap();
  for (const [k, c] of pairCounts) heap.push(c, k);

  const merges: [number, number][] = [];
  while (tokens.length < targetSize) {
    const top = heap.pop();
    if (!top) break;
    const current = pairCounts.get(top.key) ?? 0;
    if (current !== top.count) { // stale entry: requeue with the true count
      if (current > 0) heap.push(current, top.key);
      continue;
    }
    if (current < 1 || current < minFrequency) break;
    const left = Math.floor(top.key / pairBase), right = top.key % pairBase;
    if (spellCapitals && isCapital(tokens[left]!.at(-1)!) && isCapital(tokens[right]![0]!)) continue; // skipped each time it comes up
    const merged = tokens[left]! + tokens[right]!;
    let newId = tokenIds.get(merged);
    if (newId === undefined) {
      newId = tokens.length;
      if (newId >= pairBase) throw new Error(`trainByteLevelBpe: vocabulary above ${pairBase} tokens is not supported`);
      tokens.push(merged);
      tokenIds.set(merged, newId);
    }
    merges.push([left, right]);

    const delta = new Map<number, number>();
    for (const wi of pairWords.get(top.key) ?? []) {
      const w = words[wi]!, f = freqs[wi]!;
      const out: number[] = [];
      let changed = false;
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === left && w[i + 1] === right) { out.push(newId); i++; changed = true; } else out.push(w[i]!);
      }
      if (!changed) continue; // the word set is a superset: this word lost the pair in an earlier merge
      for (let i = 0; i + 1 < w.length; i++) { const k = pairKey(w[i]!, w[i + 1]!); delta.set(k, (delta.get(k) ?? 0) - f); }
      for (let i = 0; i + 1 < out.length; i++) {
        const k = pairKey(out[i]!, out[i + 1]!);
        delta.set(k, (delta.get(k) ?? 0) + f);
        if (out[i] === newId || out[i + 1] === newId) {
          let where = pairWords.get(k);
          if (!where) pairWords.set(k, (where = new Set()));
          where.add(wi);
        }
      }
      words[wi] = Int32Array.from(out);
    }
    pairCounts.delete(top.key);
    pairWords.delete(top.key);
    for (const [k, d] of delta) {
      if (d === 0 || k === top.key) continue;
      const c = (pairCounts.get(k) ?? 0) + d;
      if (c > 0) pairCounts.set(k, c); else pairCounts.delete(k);
      if (d > 0) heap.push(c, k); // only pairs holding the new token grow; shrunk ones are caught when popped
    }
  }
  return { tokens, merges };
}

// ---- tokenizer.json / tokenizer_config.json ----

const byteLevel: ByteLevelJson = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };

function checkTokenList(name: string, list: readonly string[]): void {
  for (const t of list) {
    if (typeof t !== 'string' || t.length === 0) throw new Error(`trainByteLevelBpe: ${name} holds an empty or non-string token`);
  }
}

/**
 * Trains a byte-level BPE tokenizer and returns its tokenizer.json content.
 * @example
 *   const json = trainByteLevelBpe({ texts: lines, vocabSize: 4096, specialTokens: ['<video>'] });
 *   await writeTokenizerJson('out/tok', json, { chatTemplate: chatmlTemplate });
 */
export function trainByteLevelBpe(options: ByteLevelBpeOptions): TokenizerJson {
  const minFrequency = options.minFrequency ?? 2;
  const specials = [...defaultSpecialTokens, ...(options.specialTokens ?? [])];
  const plain = [...(options.plainAddedTokens ?? defaultPlainAddedTokens)];
  checkTokenList('specialTokens', specials);
  checkTokenList('plainAddedTokens', plain);
  const added = [...specials, ...plain];
  const duplicate = added.find((t, i) => added.indexOf(t) !== i);
  if (duplicate !== undefined) throw new Error(`trainByteLevelBpe: added token ${JSON.stringify(duplicate)} is listed twice`);
  if (!Number.isInteger(options.vocabSize) || options.vocabSize < 256 + added.length) {
    throw new Error(`trainByteLevelBpe: vocabSize must be an integer >= ${256 + added.length} (256 bytes + ${added.length} added tokens), got ${options.vocabSize}`);
  }
  if (!Number.isInteger(minFrequency) || minFrequency < 1) throw new Error(`trainByteLevelBpe: minFrequency must be an integer >= 1, got ${minFrequency}`);

  if (options.texts == null || typeof (options.texts as Partial<Iterable<string>>)[Symbol.iterator] !== 'function') {
    throw new Error('trainByteLevelBpe: texts must be an iterable of strings (an array, a generator of lines)');
  }
  const model = learnMerges(countWords(options.texts, added), options.vocabSize - added.length, minFrequency, options.spellCapitals);
  const vocab: Record<string, number> = {};
  model.tokens.forEach((t, i) => { vocab[t] = i; });
  const addedTokens = added.map((content, i): AddedTokenJson => ({
    id: model.tokens.length + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false,
    special: i < specials.length,
  }));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: { type: 'NFC' },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [{ type: 'Split', pattern: { Regex: qwen2SplitPattern }, behavior: 'Isolated', invert: false }, byteLevel],
    },
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab,
      merges: model.merges.map(([l, r]): [string, string] => [model.tokens[l]!, model.tokens[r]!]),
    },
  };
}

export interface TokenizerConfigOptions {
  /** Jinja chat template; see chatml.ts. */
  chatTemplate?: string;
  /** Default 32768. */
  modelMaxLength?: number;
}

/** tokenizer_config.json that lets transformers' AutoTokenizer (v4 and v5) load the folder as a fast tokenizer. */
export function buildTokenizerConfig(tokenizer: TokenizerJson, options: TokenizerConfigOptions = {}): Record<string, unknown> {
  const addedTokensDecoder: Record<string, Omit<AddedTokenJson, 'id'>> = {};
  for (const { id, ...rest } of tokenizer.added_tokens) addedTokensDecoder[String(id)] = rest;
  const config: Record<string, unknown> = {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: addedTokensDecoder,
    additional_special_tokens: tokenizer.added_tokens.filter((t) => t.special && !['<|endoftext|>', '<|im_end|>'].includes(t.content)).map((t) => t.content),
    bos_token: null,
    clean_up_tokenization_spaces: false,
    eos_token: '<|im_end|>',
    errors: 'replace',
    model_max_length: options.modelMaxLength ?? 32768,
    pad_token: '<|endoftext|>',
    split_special_tokens: false,
    tokenizer_class: 'PreTrainedTokenizerFast',
    unk_token: null,
  };
  if (options.chatTemplate !== undefined) config['chat_template'] = options.chatTemplate;
  return config;
}

/** Writes tokenizer.json and tokenizer_config.json into `dir` (created if missing). */
export async function writeTokenizerJson(dir: string, tokenizer: TokenizerJson, options: TokenizerConfigOptions = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer, null, 2) + '\n');
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(buildTokenizerConfig(tokenizer, options), null, 2) + '\n');
}
