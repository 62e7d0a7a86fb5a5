// The Kosmos-2 processor and its grounding helpers (transformers `Kosmos2Processor`, `processing_kosmos2.py`;
// fixtures/hf README item 17). A prompt is "<s><image> " + "<image> "·Q + "</image> " + text.strip(), tokenized
// without special tokens; the Q fake <image> ids are then overwritten by unk_token_id+1 … unk_token_id+Q (ordinary
// vocabulary ids) and `image_embeds_position_mask` marks them. Batches are padded by hand on the tokenizer's side.
// Boxes are written as <patch_index_XXXX> tokens on a √num_patch_index_tokens grid; generated text is turned back
// into clean text plus entities with boxes on a 32×32 grid (HF hard-codes 32 there).
//
// Tokenizer notes: the tag and patch tokens are added tokens with lstrip=True (a space before them is absorbed);
// @huggingface/tokenizers honours that when encoding (checked against the fixture). It does not follow
// transformers 5.x on decode: it cleans up tokenization spaces by default (" ." → "."), while 5.x leaves them, so
// the processor builds its tokenizer with `clean_up_tokenization_spaces` false unless the config says otherwise.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer, type TokenizerConfig } from '../../data/tokenizer/tokenizer.ts';
import type { RgbImage } from '../vision/preprocess/decode.ts';
import { ClipImageProcessor, type PixelValues } from '../vision/preprocess/processors.ts';

/** A box (x1, y1, x2, y2) in [0, 1], or a pair of patch indices [upper-left, lower-right]. */
export type GroundingBox = readonly [number, number, number, number] | readonly [number, number];
/** Per phrase: one box, several boxes, or null (no box). */
export type PhraseBoxes = GroundingBox | readonly GroundingBox[] | null;

/** (name, [start, end) in code points, boxes). */
export type Entity<B> = [string, [number, number], B[]];
export type Box = [number, number, number, number];

const codePoints = (s: string): number => Array.from(s).length;
const pad4 = (k: number): string => String(k).padStart(4, '0');

/** Box → (upper-left, lower-right) patch indices on an n×n grid. */
export function bboxToPatchIndices(box: readonly number[], n: number): [number, number] {
  const [x1, y1, x2, y2] = box as [number, number, number, number];
  const ul = Math.floor(y1 * n) * n + Math.floor(x1 * n);
  const lr = Math.ceil(y2 * n - 1) * n + Math.ceil(x2 * n - 1);
  return [ul, lr];
}

/** Patch indices → box: the cells' outer corners when they share a row or column, else their centres. */
export function patchIndexToCoordinate(ul: number, lr: number, n: number): Box {
  const c = 1 / n;
  const ulx = ul % n, uly = Math.floor(ul / n), lrx = lr % n, lry = Math.floor(lr / n);
  if (ul === lr || ulx === lrx || uly === lry) return [ulx * c, uly * c, lrx * c + c, lry * c + c];
  return [ulx * c + c / 2, uly * c + c / 2, lrx * c + c / 2, lry * c + c / 2];
}

const entityPattern = /(?:(<phrase>([^<]+)<\/phrase>))?<object>((?:<patch_index_\d+><patch_index_\d+><\/delimiter_of_multi_objects\/>)*<patch_index_\d+><patch_index_\d+>)<\/object>/dg;

/** Entities with raw spans in `text` and patch-index pairs; an <object> without a phrase is named by its indices. */
export function extractEntitiesWithPatchIndices(text: string): Entity<[number, number]>[] {
  const out: Entity<[number, number]>[] = [];
  for (const m of text.matchAll(entityPattern)) {
    const start = m.index, phrase = m[2];
    const span: [number, number] = phrase !== undefined && m.indices?.[2]
      ? [codePoints(text.slice(0, m.indices[2][0])), codePoints(text.slice(0, m.indices[2][1]))]
      : [codePoints(text.slice(0, start)), codePoints(text.slice(0, start))];
    const pairs: [number, number][] = [];
    for (const part of m[3]!.split('</delimiter_of_multi_objects/>')) {
      const nums = [...part.matchAll(/<patch_index_(\d+)>/g)].map((x) => Number(x[1]));
      if (nums.length >= 2) pairs.push([nums[0]!, nums[1]!]);
    }
    if (phrase !== undefined) out.push([phrase, span, pairs]);
    else for (const p of pairs) out.push([`<patch_index_${p[0]}><patch_index_${p[1]}>`, span, [p]]);
  }
  return out;
}

const stripTags = (s: string): string => s.replace(/<.*?>/g, '');
// Python's str.strip() whitespace (JS trim covers the same set for the characters that occur here).
const lstripLength = (s: string): number => codePoints(s) - codePoints(s.trimStart());

/** Text without any <…> tag (stripped), and entities with spans in it and boxes on an n×n grid. */
export function cleanTextAndExtractEntitiesWithBboxes(text: string, n = 32): { text: string; entities: Entity<Box>[] } {
  const processed = stripTags(text);
  const lead = lstripLength(processed);
  const entities = extractEntitiesWithPatchIndices(text).map(([name, [s, e], pairs]): Entity<Box> => {
    const chars = Array.from(text);
    const start = codePoints(stripTags(chars.slice(0, s).join(''))), end = codePoints(stripTags(chars.slice(0, e).join('')));
    const nameLead = lstripLength(name), nameTrail = codePoints(name) - codePoints(name.trimEnd());
    return [name.trim(), [start - lead + nameLead, end - lead - nameTrail], pairs.map(([a, b]) => patchIndexToCoordinate(a, b, n))];
  });
  return { text: processed.trim(), entities };
}

/** `post_process_generation`: the text after the last </image>, cleaned, with its grounded entities (32 per side). */
export function postProcessGeneration(text: string): { text: string; entities: Entity<Box>[] } {
  const parts = text.split('</image>');
  return cleanTextAndExtractEntitiesWithBboxes(parts[parts.length - 1]!, 32);
}

/** Writes "<object> <patch_index_a> <patch_index_b> … </object>" after each <phrase>…</phrase> that has boxes. */
export function insertPatchIndexTokens(text: string, bboxes: readonly PhraseBoxes[] | null, numPatchIndexTokens: number): string {
  if (!bboxes || bboxes.length === 0) return text;
  const phrases = [...text.matchAll(/<phrase>.+?<\/phrase>/g)];
  if (phrases.length !== bboxes.length) {
    throw new Error(`kosmos-2 processor: the text has ${phrases.length} <phrase> spans but ${bboxes.length} bbox entries were given`);
  }
  const n = Math.floor(Math.sqrt(numPatchIndexTokens));
  let at = 0;
  const buffer: string[] = [];
  phrases.forEach((m, i) => {
    const end = m.index + m[0].length;
    buffer.push(text.slice(at, end));
    at = end;
    const entry = bboxes[i];
    if (entry === null || entry === undefined) return;
    const boxes = (typeof entry[0] === 'number' ? [entry] : entry) as readonly GroundingBox[];
    const strings = boxes.map((box) => {
      if (!Array.isArray(box) || (box.length !== 2 && box.length !== 4)) {
        throw new Error(`kosmos-2 processor: bbox ${JSON.stringify(box)} of phrase ${i} must be 4 coordinates or 2 patch indices`);
      }
      const [a, b] = box.length === 2 ? box as readonly [number, number] : bboxToPatchIndices(box, n);
      return `<patch_index_${pad4(a)}> <patch_index_${pad4(b)}>`;
    });
    if (strings.length) buffer.push(`<object> ${strings.join(' </delimiter_of_multi_objects/> ')} </object>`);
  });
  if (at < text.length) buffer.push(text.slice(at));
  return buffer.join('');
}

export interface Kosmos2Batch {
  /** [B][L], padded on the tokenizer's padding side. */
  inputIds: number[][];
  attentionMask: number[][];
  imageEmbedsPositionMask: number[][];
  pixelValues: PixelValues;
}

export class Kosmos2Processor {
  constructor(readonly tokenizer: Tokenizer, readonly imageProcessor: ClipImageProcessor, readonly numPatchIndexTokens: number) {}

  /** A folder with tokenizer.json, tokenizer_config.json and processor_config.json. */
  static fromDir(dir: string): Kosmos2Processor {
    const readJson = (name: string): Record<string, unknown> => {
      try {
        return JSON.parse(readFileSync(join(dir, name), 'utf8')) as Record<string, unknown>;
      } catch (e) {
        throw new Error(`kosmos-2 processor: cannot read ${join(dir, name)}: ${(e as Error).message}`);
      }
    };
    const config = readJson('tokenizer_config.json') as TokenizerConfig;
    const tokenizer = Tokenizer.fromJson(readJson('tokenizer.json'),
      { ...config, clean_up_tokenization_spaces: config.clean_up_tokenization_spaces ?? false }, join(dir, 'tokenizer.json'));
    const proc = readJson('processor_config.json');
    const n = proc.num_patch_index_tokens ?? 1024;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new Error(`kosmos-2 processor: ${join(dir, 'processor_config.json')}: num_patch_index_tokens must be a positive integer`);
    return new Kosmos2Processor(tokenizer, ClipImageProcessor.fromConfig(proc.image_processor ?? proc), n);
  }

  private id(token: string): number {
    const id = this.tokenizer.tokenToId(token);
    if (id === undefined) throw new Error(`kosmos-2 processor: the tokenizer has no "${token}" token`);
    return id;
  }

  /** The prompt string of one example (without <s>): image tags, then the text with its boxes written in. */
  prompt(text: string, numImageTokens: number, bboxes: readonly PhraseBoxes[] | null = null): string {
    return `<image> ${'<image> '.repeat(numImageTokens)}</image> ${insertPatchIndexTokens(text.trim(), bboxes, this.numPatchIndexTokens)}`;
  }

  /** One image per text; `bboxes[i]` lists the boxes of text i's phrases. */
  process(texts: readonly string[], images: readonly RgbImage[], opts: { numImageTokens: number; bboxes?: readonly (readonly PhraseBoxes[] | null)[] }): Kosmos2Batch {
    const Q = opts.numImageTokens;
    if (images.length !== texts.length) throw new Error(`kosmos-2 processor: ${texts.length} texts but ${images.length} images (one image per text)`);
    if (opts.bboxes && opts.bboxes.length !== texts.length) throw new Error(`kosmos-2 processor: ${texts.length} texts but ${opts.bboxes.length} bbox lists`);
    const bos = this.id('<s>'), boi = this.id('<image>'), unk = this.id('<unk>'), pad = this.id('<pad>');
    const rows = texts.map((t, i) => {
      const ids = this.tokenizer.encodeIds(`<s>${this.prompt(t, Q, opts.bboxes?.[i] ?? null)}`, { addSpecialTokens: false });
      if (ids[0] !== bos || ids.slice(1, 2 + Q).some((x) => x !== boi)) throw new Error(`kosmos-2 processor: text ${i} did not tokenize to <s> <image>×${Q + 1}`);
      for (let k = 0; k < Q; k++) ids[2 + k] = unk + 1 + k;
      return { ids, imageMask: ids.map((_, p) => (p >= 2 && p < 2 + Q ? 1 : 0)) };
    });
    const L = Math.max(...rows.map((r) => r.ids.length));
    const left = this.tokenizer.paddingSide === 'left';
    const padded = <T>(xs: T[], fill: T): T[] => {
      const extra = new Array<T>(L - xs.length).fill(fill);
      return left ? [...extra, ...xs] : [...xs, ...extra];
    };
    return {
      inputIds: rows.map((r) => padded(r.ids, pad)),
      attentionMask: rows.map((r) => padded(r.ids.map(() => 1), 0)),
      imageEmbedsPositionMask: rows.map((r) => padded(r.imageMask, 0)),
      pixelValues: this.imageProcessor.process(images),
    };
  }

  decode(ids: readonly number[], skipSpecialTokens = false): string {
    return this.tokenizer.decode(ids, { skipSpecialTokens });
  }
}
