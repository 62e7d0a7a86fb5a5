// The model side of the chat engine: a `ModelRunner` turns a rendered chat prompt plus its decoded media into
// prompt ids and (when there is media) first-step input embeddings with the encoder rows spliced over the
// placeholder tokens, and offers a one-token-per-step model for cached generation (generate.ts).
// Three kinds of checkpoint:
// - text decoders (llama / qwen2 → CausalLM): ids only;
// - tessera (model_type "tessera", src/models/tessera): each `<image>` / `<audio>` marker becomes the
//   processor's N placeholders (image_seq_length; Qwen2-Audio's count for the audio's valid mel frames), as
//   `TesseraProcessor.encodePrompt` does, and `TesseraModel.embedChunks` encodes the media and splices it;
// - LLaVA (model_type "llava", transformers LlavaForConditionalGeneration): each image token becomes
//   `LlavaProcessor.numImageTokens` copies (transformers LlavaProcessor), `Llava.imageFeatures` + `embed` splice.
//
// Shapes: T prompt tokens, C hidden, I images, V vocab.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chatmlTemplate } from '../data/tokenizer/chatml.ts';
import { Tokenizer } from '../data/tokenizer/tokenizer.ts';
import { parseLlmConfig } from '../models/llm/config.ts';
import { CausalLM } from '../models/llm/decoder.ts';
import type { KVCache } from '../models/llm/cache.ts';
import { Llava } from '../models/mllm/llava.ts';
import { LlavaProcessor } from '../models/processor/llava.ts';
import { loadModel, readConfig } from '../models/registry.ts';
import { loadTessera } from '../models/tessera/checkpoint.ts';
import { audioTokenCount, type TesseraModel } from '../models/tessera/model.ts';
import type { EncodedSample, TesseraProcessor } from '../models/tessera/processor.ts';
import type { RgbImage } from '../models/vision/preprocess/decode.ts';
import { ClipImageProcessor, SiglipImageProcessor } from '../models/vision/preprocess/processors.ts';
import { openCheckpoint } from '../io/checkpoint.ts';
import { noGrad, slice, tensor, type Tensor } from '../tensor/index.ts';
import type { CausalStepModel } from './generate.ts';

/** Media of one request in order of appearance: decoded RGB images and 16 kHz mono samples. */
export interface PromptMedia {
  images: RgbImage[];
  audios: Float32Array[];
}

export interface PreparedPrompt {
  /** Prompt ids with every media marker expanded to its placeholder tokens. */
  ids: number[];
  /** [1, T, C] first-step input with the media rows spliced in; null for a text-only prompt. */
  embeds: Tensor | null;
}

/** A prompt that does not fit the model (marker count ≠ media count); the engine answers it with 400. */
export class PromptMediaError extends Error {
  constructor(message: string) { super(message); this.name = 'PromptMediaError'; }
}

export interface ModelRunner {
  readonly kind: 'text' | 'tessera' | 'llava';
  readonly tokenizer: Tokenizer;
  readonly template: string;
  readonly contextLength: number;
  readonly eosIds: readonly number[];
  readonly accepts: { readonly image: boolean; readonly audio: boolean };
  /** Longest audio the encoder takes, in seconds (Infinity when it takes none). */
  readonly maxAudioSeconds: number;
  /** The model generation runs on: embeds or ids in, logits and the KV cache out. */
  readonly step: CausalStepModel;
  prepare(promptText: string, media: PromptMedia): Promise<PreparedPrompt>;
  /** The decoder's final hidden states of ids [1, T] → [1, T, C] (for embeddings). */
  hidden(ids: Tensor): Tensor;
}

function eosOf(tokenizer: Tokenizer, ...more: (number | null | undefined)[]): number[] {
  const ids = new Set<number>();
  if (tokenizer.specialIds.eos !== undefined) ids.add(tokenizer.specialIds.eos);
  for (const id of more) if (typeof id === 'number') ids.add(id);
  return [...ids];
}

function templateOf(dir: string, tok: Tokenizer): string {
  if (tok.chatTemplate) return tok.chatTemplate;
  const jinja = join(dir, 'chat_template.jinja');
  return existsSync(jinja) ? readFileSync(jinja, 'utf8') : chatmlTemplate;
}

function countOf(ids: readonly number[], id: number): number {
  let n = 0;
  for (const v of ids) if (v === id) n++;
  return n;
}

function checkMarkers(found: number, given: number, what: string, marker: string): void {
  if (found !== given) throw new PromptMediaError(`the prompt holds ${found} ${marker} marker(s) but ${given} ${what}(s) were given`);
}

/** Loads the right runner for a checkpoint folder by its config.json `model_type`. */
export async function openRunner(dir: string): Promise<ModelRunner> {
  const type = String(readConfig(dir).model_type);
  if (type === 'tessera') return tesseraRunner(dir);
  if (type === 'llava') return llavaRunner(dir);
  return textRunner(dir);
}

async function openCausalLm(dir: string): Promise<CausalLM> {
  const config = readConfig(dir);
  try {
    const loaded = await loadModel(dir);
    if (loaded.module instanceof CausalLM) return loaded.module;
    throw new Error(`${dir}: model_type "${loaded.modelType}" is not a model the chat engine can run (text decoders, tessera, llava)`);
  } catch (e) {
    // The registry may not know llama/qwen2; their weights map onto CausalLM by name, so load directly.
    if (!/unknown model_type/.test((e as Error).message) || !['llama', 'qwen2'].includes(String(config.model_type))) throw e;
  }
  const model = new CausalLM(parseLlmConfig(config, join(dir, 'config.json')));
  const ckpt = openCheckpoint(dir);
  try {
    model.loadStateDict(new Map(ckpt.keys().map((k) => [k, ckpt.read(k)])), { source: dir });
  } finally {
    ckpt.close();
  }
  return model;
}

export async function textRunner(dir: string): Promise<ModelRunner> {
  const model = await openCausalLm(dir);
  const tokenizer = Tokenizer.fromFile(dir);
  return {
    kind: 'text', tokenizer, template: templateOf(dir, tokenizer), contextLength: model.cfg.maxPositions,
    eosIds: eosOf(tokenizer, model.cfg.eosTokenId), accepts: { image: false, audio: false }, maxAudioSeconds: Infinity,
    step: model,
    prepare: async (text) => ({ ids: tokenizer.encodeIds(text, { addSpecialTokens: false }), embeds: null }),
    hidden: (ids) => model.model.forward({ inputIds: ids }).lastHiddenState,
  };
}

/** Marker-expanded ids of a tessera prompt (what encodePrompt makes of the same rendering) + its media. */
async function tesseraSample(processor: TesseraProcessor, text: string, media: PromptMedia): Promise<EncodedSample> {
  const raw = processor.tokenizer.encodeIds(text, { addSpecialTokens: false });
  checkMarkers(countOf(raw, processor.imageTokenId), media.images.length, 'image', '<image>');
  checkMarkers(countOf(raw, processor.audioTokenId), media.audios.length, 'audio', '<audio>');
  const pixelValues = await Promise.all(media.images.map((img, i) => processor.imagePixels(img, `image ${i}`)));
  const audios = await Promise.all(media.audios.map((s, i) => processor.audioFeatures(s, `audio ${i}`)));
  const inputIds: number[] = [];
  let audio = 0;
  for (const id of raw) {
    if (id === processor.imageTokenId) inputIds.push(...new Array<number>(processor.imageSeqLength).fill(id));
    else if (id === processor.audioTokenId) inputIds.push(...new Array<number>(audioTokenCount(audios[audio++]!.length)).fill(id));
    else inputIds.push(id);
  }
  return {
    id: 'prompt', inputIds, labels: inputIds.map(() => -100), pixelValues,
    audioFeatures: audios.map((a) => a.features), audioLengths: audios.map((a) => a.length),
  };
}

/** A tessera runner over an already loaded model (tests build one in memory). */
export function tesseraRunnerOf(model: TesseraModel, processor: TesseraProcessor): ModelRunner {
  const fe = processor.featureExtractor;
  return {
    kind: 'tessera', tokenizer: processor.tokenizer, template: processor.files.chatTemplate,
    contextLength: model.config.text.maxPositions,
    eosIds: eosOf(processor.tokenizer, processor.eosTokenId, model.config.text.eosTokenId),
    accepts: { image: model.vision !== null, audio: model.audio !== null && fe !== null },
    maxAudioSeconds: fe ? fe.nSamples / fe.config.samplingRate : Infinity,
    step: model.llm,
    async prepare(text: string, media: PromptMedia): Promise<PreparedPrompt> {
      const sample = await tesseraSample(processor, text, media);
      if (!sample.pixelValues.length && !sample.audioFeatures.length) return { ids: sample.inputIds, embeds: null };
      const { embeds, inputIds } = noGrad(() => model.embedChunks(processor.chunks(sample))); // [1, T, C]
      return { ids: inputIds, embeds };
    },
    hidden: (ids: Tensor) => model.llm.model.forward({ inputIds: ids }).lastHiddenState,
  };
}

export function tesseraRunner(dir: string): ModelRunner {
  const { model, processor } = loadTessera(dir);
  return tesseraRunnerOf(model, processor);
}

/** Runs the LLaVA decoder one step at a time (ids are embedded by the language model; media only in `embeds`). */
function llavaStep(model: Llava): CausalStepModel {
  return {
    forward(input: { inputIds?: Tensor; inputsEmbeds?: Tensor; cache?: KVCache; lastOnly?: boolean }): { logits: Tensor; cache: KVCache } {
      const lm = model.model.language_model;
      const x = input.inputsEmbeds ?? lm.embed(input.inputIds!); // [1, T, C]
      const out = lm.forward({ inputsEmbeds: x, ...(input.cache ? { cache: input.cache } : {}) });
      const T = out.lastHiddenState.shape[1]!;
      const h = input.lastOnly ? slice(out.lastHiddenState, 1, T - 1, T) : out.lastHiddenState;
      return { logits: model.head(h), cache: out.cache }; // [1, T|1, V]
    },
  };
}

/**
 * LlavaProcessor of a folder. transformers keeps the image processor either inside processor_config.json or in
 * its own preprocessor_config.json (what save_pretrained and tessera's export write); the latter wins when the
 * former has none.
 */
function llavaProcessor(dir: string): LlavaProcessor {
  const p = LlavaProcessor.fromDir(dir);
  const pre = join(dir, 'preprocessor_config.json');
  const inline = (JSON.parse(readFileSync(join(dir, 'processor_config.json'), 'utf8')) as { image_processor?: unknown }).image_processor;
  if (inline !== undefined || !existsSync(pre)) return p;
  const json = JSON.parse(readFileSync(pre, 'utf8')) as Record<string, unknown>;
  const image = String(json.image_processor_type ?? '').startsWith('Siglip') ? SiglipImageProcessor.fromConfig(json) : ClipImageProcessor.fromConfig(json);
  return new LlavaProcessor(p.tokenizer, image, p.config, p.chatTemplate);
}

export async function llavaRunner(dir: string): Promise<ModelRunner> {
  const loaded = await loadModel(dir);
  if (!(loaded.module instanceof Llava)) throw new Error(`${dir}: model_type llava did not load as a LLaVA model`);
  const model = loaded.module;
  const processor = llavaProcessor(dir);
  const tokenizer = processor.tokenizer;
  const marker = processor.config.imageToken;
  const generation = join(dir, 'generation_config.json');
  const genEos = existsSync(generation) ? (JSON.parse(readFileSync(generation, 'utf8')) as { eos_token_id?: unknown }).eos_token_id : undefined;
  return {
    kind: 'llava', tokenizer, template: processor.chatTemplate ?? templateOf(dir, tokenizer),
    contextLength: model.cfg.text.maxPositions,
    eosIds: eosOf(tokenizer, model.cfg.text.eosTokenId, typeof genEos === 'number' ? genEos : null),
    accepts: { image: true, audio: false }, maxAudioSeconds: Infinity,
    step: llavaStep(model),
    async prepare(text: string, media: PromptMedia): Promise<PreparedPrompt> {
      const found = text.split(marker).length - 1;
      checkMarkers(found, media.images.length, 'image', marker);
      if (!media.images.length) return { ids: tokenizer.encodeIds(text, { addSpecialTokens: false }), embeds: null };
      const pixels = processor.imageProcessor.process(media.images); // [I, 3, H, W]
      const perImage = processor.numImageTokens(pixels.shape[2], pixels.shape[3]);
      const ids = tokenizer.encodeIds(text.split(marker).join(marker.repeat(perImage)), { addSpecialTokens: false });
      const embeds = noGrad(() => {
        const idsT = tensor(Int32Array.from(ids), { shape: [1, ids.length], dtype: 'int32' });
        return model.embed(idsT, model.imageFeatures(tensor(pixels.data, { shape: pixels.shape }))); // [1, T, C]
      });
      return { ids, embeds };
    },
    hidden: (ids) => model.model.language_model.forward({ inputsEmbeds: model.model.language_model.embed(ids) }).lastHiddenState,
  };
}
