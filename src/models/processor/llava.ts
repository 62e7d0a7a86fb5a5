// The LLaVA processor, equal to transformers' `LlavaProcessor`: renders chats with the chat
// template, expands every image token into N copies (the model splices N image features there;
// fixtures/hf README item 5), tokenizes with special tokens, pads the batch and preprocesses images.
// N = (H // patch) * (W // patch) + num_additional_image_tokens - (1 if strategy == "default"),
// with H, W the processed pixel size. `num_additional_image_tokens` defaults to 0 as in
// transformers; CLIP towers (which keep a CLS token) need 1.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RgbImage } from '../vision/preprocess/decode.ts';
import { ClipImageProcessor, SiglipImageProcessor, type ImageProcessor, type PixelValues } from '../vision/preprocess/processors.ts';
import { Tokenizer } from '../../data/tokenizer/tokenizer.ts';
import { renderChat, type ChatMessage, type RenderOptions } from '../../infer/chat-template.ts';

export interface LlavaProcessorConfig {
  imageToken: string;
  patchSize: number;
  numAdditionalImageTokens: number;
  visionFeatureSelectStrategy: 'default' | 'full';
}

/** A padded batch. `inputIds` and `attentionMask` are [B, L]. */
export interface LlavaBatch {
  inputIds: number[][];
  attentionMask: number[][];
  pixelValues: PixelValues | undefined;
}

export interface LlavaCallOptions {
  /** Pad to the longest row. Default true; false requires rows of equal length. */
  padding?: boolean;
  /** Default: the tokenizer's padding_side. */
  paddingSide?: 'left' | 'right';
}

function parseConfig(o: Record<string, unknown>): LlavaProcessorConfig {
  const patchSize = o.patch_size;
  if (typeof patchSize !== 'number' || !Number.isInteger(patchSize) || patchSize <= 0) {
    throw new Error(`llava processor: patch_size must be a positive integer, got ${JSON.stringify(patchSize)}`);
  }
  const extra = o.num_additional_image_tokens ?? 0;
  if (typeof extra !== 'number' || !Number.isInteger(extra) || extra < 0) {
    throw new Error(`llava processor: num_additional_image_tokens must be a non-negative integer`);
  }
  const strategy = o.vision_feature_select_strategy ?? 'default';
  if (strategy !== 'default' && strategy !== 'full') {
    throw new Error(`llava processor: vision_feature_select_strategy must be "default" or "full", got ${JSON.stringify(strategy)}`);
  }
  const imageToken = o.image_token ?? '<image>';
  if (typeof imageToken !== 'string') throw new Error('llava processor: image_token must be a string');
  return { imageToken, patchSize, numAdditionalImageTokens: extra, visionFeatureSelectStrategy: strategy };
}

function countOccurrences(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

export class LlavaProcessor {
  readonly config: Readonly<LlavaProcessorConfig>;
  readonly imageTokenId: number;

  constructor(
    readonly tokenizer: Tokenizer,
    readonly imageProcessor: ImageProcessor,
    config: LlavaProcessorConfig,
    readonly chatTemplate: string | undefined = tokenizer.chatTemplate,
  ) {
    this.config = Object.freeze({ ...config });
    const id = tokenizer.tokenToId(config.imageToken);
    if (id === undefined) throw new Error(`llava processor: image token ${config.imageToken} is not in the vocabulary`);
    this.imageTokenId = id;
  }

  /** Load processor_config.json, tokenizer.json (+ config) and chat_template.jinja (if present) from a folder. */
  static fromDir(dir: string): LlavaProcessor {
    const path = join(dir, 'processor_config.json');
    if (!existsSync(path)) throw new Error(`llava processor: ${dir} has no processor_config.json`);
    const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const ip = (json.image_processor ?? {}) as Record<string, unknown>;
    const type = String(ip.image_processor_type ?? 'CLIPImageProcessor');
    const imageProcessor = type.startsWith('Siglip') ? SiglipImageProcessor.fromConfig(ip) : ClipImageProcessor.fromConfig(ip);
    const templatePath = join(dir, 'chat_template.jinja');
    const tokenizer = Tokenizer.fromFile(dir);
    const template = existsSync(templatePath) ? readFileSync(templatePath, 'utf8') : tokenizer.chatTemplate;
    return new LlavaProcessor(tokenizer, imageProcessor, parseConfig(json), template);
  }

  /** Image tokens per image of a processed size. */
  numImageTokens(height: number, width: number): number {
    const c = this.config;
    const n = Math.floor(height / c.patchSize) * Math.floor(width / c.patchSize) + c.numAdditionalImageTokens;
    return c.visionFeatureSelectStrategy === 'default' ? n - 1 : n;
  }

  /** Render a conversation with the processor's chat template (tokenizer's special tokens filled in). */
  applyChatTemplate(messages: readonly ChatMessage[], options: RenderOptions = {}): string {
    if (this.chatTemplate === undefined) throw new Error('llava processor: no chat template');
    const t = this.tokenizer;
    return renderChat(this.chatTemplate, messages, {
      ...(t.bosToken !== undefined ? { bosToken: t.bosToken } : {}),
      ...(t.eosToken !== undefined ? { eosToken: t.eosToken } : {}),
      ...(t.padToken !== undefined ? { padToken: t.padToken } : {}),
      ...(t.unkToken !== undefined ? { unkToken: t.unkToken } : {}),
      ...options,
    });
  }

  /** Prompts (one per row, containing image tokens) and the images in order of appearance → a batch. */
  call(texts: readonly string[], images: readonly RgbImage[] = [], options: LlavaCallOptions = {}): LlavaBatch {
    if (texts.length === 0) throw new Error('llava processor: no texts');
    const marker = this.config.imageToken;
    const markers = texts.reduce((n, t) => n + countOccurrences(t, marker), 0);
    if (markers !== images.length) {
      throw new Error(`llava processor: the texts hold ${markers} ${marker} tokens but ${images.length} images were given`);
    }
    const pixelValues = images.length > 0 ? this.imageProcessor.process(images) : undefined;
    const perImage = pixelValues === undefined ? 0 : this.numImageTokens(pixelValues.shape[2], pixelValues.shape[3]);
    const rows = texts.map((t) => this.tokenizer.encodeIds(t.split(marker).join(marker.repeat(perImage)), { addSpecialTokens: true }));

    const length = Math.max(...rows.map((r) => r.length));
    if (options.padding === false) {
      if (rows.some((r) => r.length !== length)) throw new Error('llava processor: rows differ in length and padding is off');
    }
    const padId = this.tokenizer.specialIds.pad;
    if (padId === undefined && rows.some((r) => r.length !== length)) {
      throw new Error('llava processor: padding needed but the tokenizer has no pad token');
    }
    const left = (options.paddingSide ?? this.tokenizer.paddingSide) === 'left';
    const inputIds: number[][] = [];
    const attentionMask: number[][] = [];
    for (const r of rows) {
      const pad = new Array<number>(length - r.length).fill(padId ?? 0);
      const zeros = new Array<number>(length - r.length).fill(0);
      const ones = new Array<number>(r.length).fill(1);
      inputIds.push(left ? [...pad, ...r] : [...r, ...pad]);
      attentionMask.push(left ? [...zeros, ...ones] : [...ones, ...zeros]);
    }
    return { inputIds, attentionMask, pixelValues };
  }
}
