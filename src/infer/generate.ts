// Streaming generation for the server: an async generator of token ids from a causal LM with a KV cache
// (prefill the prompt once, then one token per step), and on top of it a text stream that detokenises
// incrementally and honours stop strings.
// - Between tokens the generator awaits a macrotask (setImmediate), so the event loop can serve other
//   requests, notice a closed socket (AbortSignal) and collect the previous step's tensors.
// - Detokenisation follows text-generation-inference's prefix/read offsets: decode a short window of recent
//   ids and emit only what was added, holding text back while it ends in U+FFFD (a UTF-8 sequence split
//   across byte-level tokens).
// - Stop strings are matched on the decoded text; the stop string is not emitted, and a tail that could be
//   the start of a stop string is held back until it is decided.
//
// Shapes: T prompt tokens, C hidden, V vocab.

import { noGrad, slice, tensor, type Tensor } from '../tensor/index.ts';
import type { KVCache } from '../models/llm/cache.ts';
import type { Sampler } from './sampler.ts';

/** What generation needs of a model: `CausalLM` fits as it is. */
export interface CausalStepModel {
  forward(input: { inputIds?: Tensor; inputsEmbeds?: Tensor; cache?: KVCache; lastOnly?: boolean }): { logits: Tensor; cache: KVCache };
}

/** What detokenisation needs of a tokenizer: `Tokenizer` fits. */
export interface Decoder {
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
}

export type FinishReason = 'stop' | 'length' | 'abort';

export interface GenerateOptions {
  /** Prompt ids: prefilled (unless `promptEmbeds` is given) and the context of the repetition penalty. */
  prompt: readonly number[];
  /** [1, T, C] first-step input with media features spliced in; T must equal prompt.length. */
  promptEmbeds?: Tensor;
  sampler: Sampler;
  maxTokens: number;
  eosIds: readonly number[];
  signal?: AbortSignal;
}

const nextMacrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Yields new token ids; returns why it ended. An eos id ends generation and is not yielded. */
export async function* generateTokens(model: CausalStepModel, opts: GenerateOptions): AsyncGenerator<number, FinishReason> {
  if (opts.prompt.length === 0) throw new Error('generate: the prompt is empty');
  if (opts.promptEmbeds && opts.promptEmbeds.shape[1] !== opts.prompt.length) {
    throw new Error(`generate: promptEmbeds has ${opts.promptEmbeds.shape[1]} positions, prompt ${opts.prompt.length} ids`);
  }
  const context = [...opts.prompt];
  const eos = new Set(opts.eosIds);
  let cache: KVCache | undefined;
  let input: { inputIds?: Tensor; inputsEmbeds?: Tensor } = opts.promptEmbeds
    ? { inputsEmbeds: opts.promptEmbeds }
    : { inputIds: tensor(Int32Array.from(context), { shape: [1, context.length], dtype: 'int32' }) };
  for (let n = 0; n < opts.maxTokens; n++) {
    if (opts.signal?.aborted) return 'abort';
    const row = noGrad(() => {
      const out = model.forward({ ...input, ...(cache ? { cache } : {}), lastOnly: true });
      cache = out.cache;
      const L = out.logits.shape[1]!;
      return slice(out.logits, 1, L - 1, L).toFloat32Array(); // [V]
    });
    const id = opts.sampler.next(row, context);
    if (eos.has(id)) return 'stop';
    context.push(id);
    yield id;
    input = { inputIds: tensor(Int32Array.of(id), { shape: [1, 1], dtype: 'int32' }) };
    await nextMacrotask();
  }
  return 'length';
}

/** Incremental detokeniser: `push(id)` returns the text that is now certain. */
export class IncrementalDecoder {
  private readonly ids: number[] = [];
  private prefixOffset = 0;
  private readOffset = 0;

  constructor(private readonly tokenizer: Decoder, private readonly skipSpecialTokens = true) {}

  push(id: number): string {
    this.ids.push(id);
    const opts = { skipSpecialTokens: this.skipSpecialTokens };
    const before = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset), opts);
    const now = this.tokenizer.decode(this.ids.slice(this.prefixOffset), opts);
    if (now.length <= before.length || now.endsWith('\uFFFD')) return '';
    this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    return now.slice(before.length);
  }

  /** Whatever is still held back (a truncated UTF-8 sequence decodes to U+FFFD here, as HF decode does). */
  flush(): string {
    const opts = { skipSpecialTokens: this.skipSpecialTokens };
    const before = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset), opts);
    const now = this.tokenizer.decode(this.ids.slice(this.prefixOffset), opts);
    this.prefixOffset = this.readOffset = this.ids.length;
    return now.length > before.length ? now.slice(before.length) : '';
  }
}

/** Cuts a text stream at the first stop string; holds back a tail that may be the start of one. */
export class StopStringFilter {
  private pending = '';
  stopped = false;

  constructor(private readonly stops: readonly string[]) {
    if (stops.some((s) => s.length === 0)) throw new Error('generate: stop strings must not be empty');
  }

  push(text: string): string {
    if (this.stopped) return '';
    this.pending += text;
    let cut = -1;
    for (const s of this.stops) {
      const at = this.pending.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.stopped = true;
      const out = this.pending.slice(0, cut);
      this.pending = '';
      return out;
    }
    const hold = this.partialTail();
    const out = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return out;
  }

  flush(): string {
    const out = this.stopped ? '' : this.pending;
    this.pending = '';
    return out;
  }

  /** Length of the longest suffix of `pending` that is a proper prefix of some stop string. */
  private partialTail(): number {
    let best = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, this.pending.length); n > best; n--) {
        if (this.pending.endsWith(s.slice(0, n))) { best = n; break; }
      }
    }
    return best;
  }
}

export interface TextResult {
  text: string;
  finishReason: FinishReason;
  completionTokens: number;
}

/** Text deltas of a generation (never broken UTF-8, never a stop string or its unresolved prefix). */
export async function* generateText(
  model: CausalStepModel, tokenizer: Decoder, opts: GenerateOptions & { stopStrings?: readonly string[] },
): AsyncGenerator<string, TextResult> {
  const decoder = new IncrementalDecoder(tokenizer);
  const stops = new StopStringFilter(opts.stopStrings ?? []);
  const tokens = generateTokens(model, opts);
  let text = '', completionTokens = 0, finishReason: FinishReason;
  for (;;) {
    const r = await tokens.next();
    if (r.done) { finishReason = r.value; break; }
    completionTokens++;
    const delta = stops.push(decoder.push(r.value));
    if (delta) { text += delta; yield delta; }
    if (stops.stopped) { await tokens.return('stop'); finishReason = 'stop'; break; }
  }
  const rest = stops.push(decoder.flush()) + stops.flush();
  if (rest) { text += rest; yield rest; }
  if (stops.stopped) finishReason = 'stop';
  return { text, finishReason, completionTokens };
}
