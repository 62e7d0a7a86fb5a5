// Token offsets for BPE tokenizers: tokenizers.js returns ids and tokens but no offsets, so they are
// rebuilt here the way the Rust `tokenizers` crate aligns them (NormalizedString alignments):
// every normalized character remembers the original range it came from; an inserted character
// (Prepend "▁", Metaspace prefix) takes the range of the character it was put before, and a
// token that holds only part of a multi-byte character gets that whole character.
// Offsets are in code points (what Python's `encoding.offsets` reports), not UTF-16 units.
// Supported: normalizers NFC / Prepend / Replace(String) / Sequence, pre-tokenizers Metaspace /
// ByteLevel / Split / Sequence, BPE with optional byte_fallback. Anything else yields undefined.

interface AddedTokenJson {
  id: number;
  content: string;
}

export interface OffsetPipeline {
  json: Record<string, unknown>;
  addedTokens: readonly AddedTokenJson[];
}

// One normalized character and the original code-point range [start, end) it aligns to.
interface Unit {
  char: string;
  start: number;
  end: number;
}

type Json = Record<string, unknown>;
const encoder = new TextEncoder();

class Unsupported extends Error {}

// GPT-2's byte <-> printable-unicode table used by the ByteLevel pre-tokenizer.
function byteLevelDecoder(): Map<string, number> {
  const bytes: number[] = [];
  for (let b = 33; b <= 126; b++) bytes.push(b);
  for (let b = 161; b <= 172; b++) bytes.push(b);
  for (let b = 174; b <= 255; b++) bytes.push(b);
  const chars = bytes.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(256 + n++);
    }
  }
  return new Map(bytes.map((b, i) => [String.fromCodePoint(chars[i]!), b]));
}
const byteLevelTable = byteLevelDecoder();

function flatten(node: unknown, listKey: string): Json[] {
  if (node === null || node === undefined) return [];
  const j = node as Json;
  if (j.type === 'Sequence') return (j[listKey] as unknown[]).flatMap((n) => flatten(n, listKey));
  return [j];
}

function applyNormalizer(n: Json, units: Unit[]): Unit[] {
  switch (n.type) {
    case 'NFC': {
      // Compose per cluster (a base character and its combining marks). As in the Rust alignment,
      // the k-th composed character keeps the range of the k-th original one; the absorbed marks vanish.
      const out: Unit[] = [];
      let i = 0;
      while (i < units.length) {
        let j = i + 1;
        while (j < units.length && /\p{M}/u.test(units[j]!.char)) j++;
        const cluster = units.slice(i, j);
        const raw = cluster.map((u) => u.char).join('');
        const composed = raw.normalize('NFC');
        if (composed === raw) out.push(...cluster);
        else Array.from(composed).forEach((c, k) => out.push({ ...cluster[Math.min(k, cluster.length - 1)]!, char: c }));
        i = j;
      }
      return out;
    }
    case 'Prepend': {
      if (units.length === 0) return units;
      const first = units[0]!;
      return [...Array.from(n.prepend as string, (c) => ({ char: c, start: first.start, end: first.end })), ...units];
    }
    case 'Replace': {
      const pattern = (n.pattern as Json).String;
      if (typeof pattern !== 'string' || pattern.length === 0) throw new Unsupported('Replace with a regex');
      return replaceUnits(units, Array.from(pattern), n.content as string);
    }
    default:
      throw new Unsupported(`normalizer ${String(n.type)}`);
  }
}

function replaceUnits(units: Unit[], pattern: string[], content: string): Unit[] {
  const out: Unit[] = [];
  let i = 0;
  while (i < units.length) {
    if (pattern.every((c, k) => units[i + k]?.char === c)) {
      const start = units[i]!.start;
      const end = units[i + pattern.length - 1]!.end;
      for (const c of content) out.push({ char: c, start, end });
      i += pattern.length;
    } else {
      out.push(units[i++]!);
    }
  }
  return out;
}

function applyPreTokenizer(p: Json, units: Unit[], atTextStart: boolean): { units: Unit[]; byteLevel: boolean } {
  switch (p.type) {
    case 'Split':
    case 'Whitespace':
    case 'WhitespaceSplit':
    case 'Punctuation':
    case 'Digits':
      return { units, byteLevel: false }; // these only cut, they never change characters
    case 'Metaspace': {
      const rep = (p.replacement as string | undefined) ?? '▁';
      const scheme = (p.prepend_scheme as string | undefined) ?? (p.add_prefix_space === false ? 'never' : 'always');
      let out = replaceUnits(units, [' '], rep);
      const wantPrefix = scheme === 'always' || (scheme === 'first' && atTextStart);
      if (wantPrefix && out.length > 0 && out[0]!.char !== rep) {
        out = [{ char: rep, start: out[0]!.start, end: out[0]!.end }, ...out];
      }
      return { units: out, byteLevel: false };
    }
    case 'ByteLevel': {
      let out = units;
      if (p.add_prefix_space === true && out.length > 0 && out[0]!.char !== ' ') {
        out = [{ char: ' ', start: out[0]!.start, end: out[0]!.end }, ...out];
      }
      return { units: out, byteLevel: true };
    }
    default:
      throw new Unsupported(`pre-tokenizer ${String(p.type)}`);
  }
}

function tokenBytes(token: string, byteLevel: boolean, byteFallback: boolean): number[] {
  if (byteFallback) {
    const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
    if (m) return [parseInt(m[1]!, 16)];
  }
  if (byteLevel) {
    return Array.from(token, (c) => {
      const b = byteLevelTable.get(c);
      if (b === undefined) throw new Unsupported(`token ${token} is not byte-level`);
      return b;
    });
  }
  return Array.from(encoder.encode(token));
}

// Offsets of the model tokens of one text segment (between added tokens).
function segmentOffsets(pipe: OffsetPipeline, cps: string[], start: number, end: number, tokens: string[]): Array<[number, number]> {
  const model = pipe.json.model as Json;
  if (model.type !== 'BPE' || (model.continuing_subword_prefix ?? null) !== null || (model.end_of_word_suffix ?? null) !== null) {
    throw new Unsupported(`model ${String(model.type)}`);
  }
  let units: Unit[] = [];
  for (let i = start; i < end; i++) units.push({ char: cps[i]!, start: i, end: i + 1 });
  for (const n of flatten(pipe.json.normalizer, 'normalizers')) units = applyNormalizer(n, units);
  let byteLevel = false;
  for (const p of flatten(pipe.json.pre_tokenizer, 'pretokenizers')) {
    const r = applyPreTokenizer(p, units, start === 0);
    units = r.units;
    byteLevel ||= r.byteLevel;
  }
  // Byte string of the normalized segment, each byte owned by one unit.
  const owner: number[] = [];
  const bytes: number[] = [];
  units.forEach((u, k) => {
    for (const b of encoder.encode(u.char)) {
      bytes.push(b);
      owner.push(k);
    }
  });
  const out: Array<[number, number]> = [];
  let pos = 0;
  for (const t of tokens) {
    const tb = tokenBytes(t, byteLevel, model.byte_fallback === true);
    if (tb.length === 0 || tb.some((b, k) => bytes[pos + k] !== b)) throw new Unsupported(`token ${t} does not match the text`);
    out.push([units[owner[pos]!]!.start, units[owner[pos + tb.length - 1]!]!.end]);
    pos += tb.length;
  }
  if (pos !== bytes.length) throw new Unsupported('tokens do not cover the text');
  return out;
}

/**
 * Offsets for an encoding made without special tokens, or undefined when this pipeline is not
 * one that can be aligned (the tokens are still right; only offsets are missing).
 */
export function tokenOffsets(pipe: OffsetPipeline, text: string, ids: number[], tokens: string[]): Array<[number, number]> | undefined {
  const added = new Map(pipe.addedTokens.map((t) => [t.id, t.content]));
  const cps = Array.from(text);
  const out: Array<[number, number]> = [];
  let cursor = 0;
  let run: string[] = [];
  const flush = (end: number): void => {
    if (run.length > 0) out.push(...segmentOffsets(pipe, cps, cursor, end, run));
    run = [];
  };
  try {
    for (let i = 0; i < ids.length; i++) {
      const content = added.get(ids[i]!);
      if (content === undefined) {
        run.push(tokens[i]!);
        continue;
      }
      const contentCps = Array.from(content);
      let at = cursor;
      while (at + contentCps.length <= cps.length && !contentCps.every((c, k) => cps[at + k] === c)) at++;
      if (at + contentCps.length > cps.length) throw new Unsupported(`added token ${content} not found`);
      flush(at);
      out.push([at, at + contentCps.length]);
      cursor = at + contentCps.length;
    }
    flush(cps.length);
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }
  return out;
}
