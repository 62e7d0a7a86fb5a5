// TesseraProcessor: the tokenizer (tokenizer.json, byte-level BPE from src/data/tokenizer/bpe-train.ts), the ChatML
// template (chatml.ts), a SigLIP image processor (any input size → the tower's size; transformers
// `SiglipImageProcessorPil`) and a Whisper feature extractor with a short chunk (`WhisperFeatureExtractor`).
// It turns JSONL records and chat prompts into token ids with each `<image>` / `<audio>` marker expanded to its
// placeholder tokens (image: (size/patch)²; audio: Qwen2-Audio's ((L−1)//2+1−2)//2+1 for L valid mel frames),
// labels on assistant tokens only (record.ts), pixel values and mel features; and pads samples into a batch.
//
// Files: tokenizer.json, tokenizer_config.json, chat_template.jinja and preprocessor_config.json
// `{ "processor_class": "TesseraProcessor", "image_seq_length", "image_processor": {...}, "feature_extractor": {...} }`.

import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chatmlTemplate } from '../../data/tokenizer/chatml.ts';
import { Tokenizer, type TokenizerConfig } from '../../data/tokenizer/tokenizer.ts';
import { loadAudio } from '../../data/audio/load.ts';
import type { ChatMessage } from '../../infer/chat-template.ts';
import { tensor, type Tensor } from '../../tensor/index.ts';
import { WhisperFeatureExtractor } from '../audio/mel.ts';
import { decodeImage, type RgbImage } from '../vision/preprocess/decode.ts';
import { SiglipImageProcessor } from '../vision/preprocess/processors.ts';
import type { TesseraConfig } from './config.ts';
import type { MediaCache } from './media-cache.ts';
import { audioTokenCount, type Chunk, type TesseraBatch } from './model.ts';
import { parseMediaRecord, recordMessages, renderSegments, type Segment } from './record.ts';

/** One encoded sequence: ids with expanded placeholders, labels (−100 = no loss), and its media in marker order. */
export interface EncodedSample {
  readonly id: string;
  readonly inputIds: number[];
  readonly labels: number[];
  /** Each [3, H, W]. */
  readonly pixelValues: Float32Array[];
  /** Each [M, F]. */
  readonly audioFeatures: Float32Array[];
  /** Valid mel frames of each audio. */
  readonly audioLengths: number[];
  /** The file each image was read from, when they were: samples naming one file share its pixels once packed. */
  readonly imageFiles?: readonly string[];
}

/** What a processor is made of, as the JSON of its files. */
export interface ProcessorFiles {
  readonly tokenizerJson: Record<string, unknown>;
  readonly tokenizerConfig: TokenizerConfig;
  readonly chatTemplate: string;
  readonly preprocessor: Record<string, unknown>;
}

/** Media given directly to `encodePrompt`: file paths, decoded images, or 16 kHz mono samples. */
export interface PromptMedia {
  images?: readonly (string | RgbImage)[];
  audios?: readonly (string | Float32Array)[];
}

function readJson(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new Error(`tessera processor: ${path} is missing`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`tessera processor: ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** preprocessor_config.json for a model config (image size and mel frames follow the towers). */
export function preprocessorFor(cfg: TesseraConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { processor_class: 'TesseraProcessor' };
  if (cfg.vision) {
    const s = cfg.vision.vit.imageSize;
    out.image_seq_length = cfg.vision.tokensPerImage;
    out.image_processor = {
      image_processor_type: 'SiglipImageProcessor', do_resize: true, size: { height: s, width: s }, resample: 3,
      do_rescale: true, rescale_factor: 1 / 255, do_normalize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5],
    };
  }
  if (cfg.audio) {
    const frames = cfg.audio.frames;
    if (frames % 100) throw new Error(`tessera: audio encoder frames ${frames} (2·max_source_positions) must be a multiple of 100 (whole seconds at hop 160)`);
    out.feature_extractor = {
      feature_extractor_type: 'WhisperFeatureExtractor', feature_size: cfg.audio.whisper.numMelBins, sampling_rate: 16000,
      hop_length: 160, chunk_length: frames / 100, n_fft: 400, n_samples: frames * 160, nb_max_frames: frames,
      padding_value: 0, dither: 0, padding_side: 'right', return_attention_mask: true,
    };
  }
  return out;
}

export class TesseraProcessor {
  readonly tokenizer: Tokenizer;
  readonly imageProcessor: SiglipImageProcessor | null;
  readonly featureExtractor: WhisperFeatureExtractor | null;
  readonly imageSeqLength: number;
  readonly imageTokenId: number;
  readonly audioTokenId: number;
  readonly padTokenId: number;
  readonly eosTokenId: number;

  constructor(readonly files: ProcessorFiles, source = '<processor>') {
    this.tokenizer = Tokenizer.fromJson(files.tokenizerJson, files.tokenizerConfig, `${source}/tokenizer.json`);
    const id = (name: string): number => {
      const v = this.tokenizer.tokenToId(name);
      if (v === undefined) throw new Error(`tessera processor: ${source}/tokenizer.json has no ${name} token`);
      return v;
    };
    this.imageTokenId = id('<image>');
    this.audioTokenId = id('<audio>');
    this.eosTokenId = id('<|im_end|>');
    this.padTokenId = this.tokenizer.specialIds.pad ?? id('<|endoftext|>');
    const p = files.preprocessor;
    this.imageProcessor = p.image_processor ? SiglipImageProcessor.fromConfig(p.image_processor) : null;
    this.featureExtractor = p.feature_extractor ? WhisperFeatureExtractor.fromPreprocessorConfig(p.feature_extractor, `${source}/preprocessor_config.json`) : null;
    this.imageSeqLength = typeof p.image_seq_length === 'number' ? p.image_seq_length : 0;
    if (this.imageProcessor && !(Number.isInteger(this.imageSeqLength) && this.imageSeqLength > 0)) {
      throw new Error(`tessera processor: ${source}/preprocessor_config.json needs a positive integer "image_seq_length"`);
    }
  }

  static fromDir(dir: string): TesseraProcessor {
    const templatePath = join(dir, 'chat_template.jinja');
    const tokenizerConfig = readJson(join(dir, 'tokenizer_config.json')) as TokenizerConfig;
    const chatTemplate = existsSync(templatePath) ? readFileSync(templatePath, 'utf8')
      : typeof tokenizerConfig.chat_template === 'string' ? tokenizerConfig.chat_template : chatmlTemplate;
    return new TesseraProcessor({
      tokenizerJson: readJson(join(dir, 'tokenizer.json')), tokenizerConfig, chatTemplate,
      preprocessor: readJson(join(dir, 'preprocessor_config.json')),
    }, dir);
  }

  /** A processor whose image size, token count and mel chunk fit `cfg`; the tokenizer's marker ids must match it. */
  static forModel(cfg: TesseraConfig, tokenizerJson: Record<string, unknown>, tokenizerConfig: TokenizerConfig, chatTemplate = chatmlTemplate): TesseraProcessor {
    const p = new TesseraProcessor({ tokenizerJson, tokenizerConfig: { ...tokenizerConfig, chat_template: chatTemplate }, chatTemplate, preprocessor: preprocessorFor(cfg) });
    p.checkModel(cfg);
    return p;
  }

  /** Throws when the tokenizer or preprocessing does not fit the model config. */
  checkModel(cfg: TesseraConfig): void {
    const bad: string[] = [];
    if (this.imageTokenId !== cfg.imageTokenId) bad.push(`<image> is id ${this.imageTokenId} in the tokenizer, image_token_id ${cfg.imageTokenId} in the model`);
    if (this.audioTokenId !== cfg.audioTokenId) bad.push(`<audio> is id ${this.audioTokenId} in the tokenizer, audio_token_id ${cfg.audioTokenId} in the model`);
    if (this.tokenizer.vocabSize > cfg.text.vocabSize) bad.push(`the tokenizer has ${this.tokenizer.vocabSize} ids, the model ${cfg.text.vocabSize}`);
    if (cfg.vision && this.imageSeqLength !== cfg.vision.tokensPerImage) bad.push(`image_seq_length ${this.imageSeqLength}, the model takes ${cfg.vision.tokensPerImage}`);
    if (cfg.audio && this.featureExtractor && this.featureExtractor.nFrames !== cfg.audio.frames) bad.push(`the feature extractor makes ${this.featureExtractor.nFrames} frames, the encoder takes ${cfg.audio.frames}`);
    if (bad.length) throw new Error(`tessera processor does not fit the model: ${bad.join('; ')}`);
  }

  /** One image (a path or decoded) → [3, H, W] at the tower's size. */
  async imagePixels(image: string | RgbImage, where: string, cache?: MediaCache): Promise<Float32Array> {
    if (!this.imageProcessor) throw new Error(`${where}: this model takes no images`);
    let img: RgbImage;
    try {
      img = typeof image !== 'string' ? image : cache ? await cache.image(image, () => decodeImage(image)) : await decodeImage(image);
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`);
    }
    return this.imageProcessor.processOne(img).data;
  }

  /** One audio (a path or 16 kHz samples) → mel features [M, F] and its valid frames. */
  async audioFeatures(audio: string | Float32Array, where: string, cache?: MediaCache): Promise<{ features: Float32Array; length: number }> {
    const fe = this.featureExtractor;
    if (!fe) throw new Error(`${where}: this model takes no audio`);
    if (cache && typeof audio === 'string') return cache.audioFeatures(audio, JSON.stringify(fe.config), () => this.audioFeatures(audio, where));
    let samples: Float32Array;
    try {
      samples = typeof audio === 'string' ? (await loadAudio(audio, fe.config.samplingRate)).samples : audio;
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`);
    }
    if (samples.length === 0) throw new Error(`${where}: the audio is empty`);
    if (samples.length > fe.nSamples) {
      throw new Error(`${where}: ${(samples.length / fe.config.samplingRate).toFixed(2)} s of audio is longer than the model's ${fe.config.chunkLength} s chunk`);
    }
    const f = fe.extract(samples);
    return { features: f.inputFeatures, length: f.attentionMask.reduce((n, m) => n + m, 0) };
  }

  /** Segments → ids and labels, markers expanded; checks the marker counts against the media. */
  private expand(segments: readonly Segment[], images: number, audioLengths: readonly number[], where: string): { inputIds: number[]; labels: number[] } {
    const inputIds: number[] = [], labels: number[] = [];
    let seenImages = 0, seenAudios = 0;
    for (const seg of segments) {
      for (const id of this.tokenizer.encodeIds(seg.text, { addSpecialTokens: false })) {
        let run = [id];
        if (id === this.imageTokenId) {
          seenImages++;
          run = new Array<number>(this.imageSeqLength).fill(id);
        } else if (id === this.audioTokenId) {
          const L = audioLengths[seenAudios++];
          run = L === undefined ? [] : new Array<number>(audioTokenCount(L)).fill(id);
        }
        inputIds.push(...run);
        labels.push(...run.map((r) => (seg.labelled ? r : -100)));
      }
    }
    if (seenImages !== images) throw new Error(`${where}: ${seenImages} <image> marker(s) in the text but ${images} image(s) given`);
    if (seenAudios !== audioLengths.length) throw new Error(`${where}: ${seenAudios} <audio> marker(s) in the text but ${audioLengths.length} audio(s) given`);
    return { inputIds, labels };
  }

  /**
   * One JSONL record (paths relative to `baseDir`) → ids, labels on assistant tokens only, media.
   * Errors name the record id and the problem (bad media file, marker/media mismatch, too long). `opts.media` keeps
   * decoded files for later records (training: media-cache.ts).
   */
  async encodeRecord(record: unknown, baseDir: string, opts: { maxLength: number; media?: MediaCache | undefined }): Promise<EncodedSample> {
    const r = parseMediaRecord(record);
    const where = `record ${r.id}`;
    const imageFiles = r.images.map((p) => resolve(baseDir, p));
    const pixelValues = await Promise.all(r.images.map((p, i) => this.imagePixels(imageFiles[i]!, `${where}: image ${p}`, opts.media)));
    const audios = await Promise.all(r.audios.map((p) => this.audioFeatures(resolve(baseDir, p), `${where}: audio ${p}`, opts.media)));
    const segments = renderSegments(this.files.chatTemplate, recordMessages(r.conversations), where);
    const { inputIds, labels } = this.expand(segments, pixelValues.length, audios.map((a) => a.length), where);
    if (inputIds.length > opts.maxLength) throw new Error(`${where}: ${inputIds.length} tokens exceed the length limit of ${opts.maxLength}`);
    return { id: r.id, inputIds, labels, pixelValues, audioFeatures: audios.map((a) => a.features), audioLengths: audios.map((a) => a.length),
      ...(imageFiles.length ? { imageFiles } : {}) };
  }

  /** Chat messages (content strings with markers, or parts) + their media → a prompt ending in an open assistant turn. */
  async encodePrompt(messages: readonly ChatMessage[], media: PromptMedia = {}, id = 'prompt'): Promise<EncodedSample> {
    const pixelValues = await Promise.all((media.images ?? []).map((m, i) => this.imagePixels(m, `${id}: image ${i}`)));
    const audios = await Promise.all((media.audios ?? []).map((m, i) => this.audioFeatures(m, `${id}: audio ${i}`)));
    const segments = renderSegments(this.files.chatTemplate, messages, id, true).map((s) => ({ ...s, labelled: false }));
    const { inputIds, labels } = this.expand(segments, pixelValues.length, audios.map((a) => a.length), id);
    return { id, inputIds, labels, pixelValues, audioFeatures: audios.map((a) => a.features), audioLengths: audios.map((a) => a.length) };
  }

  /** Samples → one batch: right padding for training, left padding for generation; media row-major. */
  collate(samples: readonly EncodedSample[], opts: { padSide: 'right' | 'left' }): TesseraBatch {
    if (!samples.length) throw new Error('tessera collate: no samples');
    const B = samples.length, T = Math.max(...samples.map((s) => s.inputIds.length));
    const ids = new Int32Array(B * T).fill(this.padTokenId), labels = new Int32Array(B * T).fill(-100), mask = new Int32Array(B * T);
    samples.forEach((s, b) => {
      const at = b * T + (opts.padSide === 'left' ? T - s.inputIds.length : 0);
      ids.set(s.inputIds, at);
      labels.set(s.labels, at);
      mask.fill(1, at, at + s.inputIds.length);
    });
    const images = samples.flatMap((s) => s.pixelValues), audios = samples.flatMap((s) => s.audioFeatures);
    const stackRows = (rows: Float32Array[], shape: number[]): Tensor => {
      const out = new Float32Array(rows.length * rows[0]!.length);
      rows.forEach((r, i) => out.set(r, i * r.length));
      return tensor(out, { shape: [rows.length, ...shape] });
    };
    const side = this.imageProcessor ? this.imageSize() : 0;
    const fe = this.featureExtractor;
    return {
      inputIds: tensor(ids, { shape: [B, T], dtype: 'int32' }),
      attentionMask: tensor(mask, { shape: [B, T], dtype: 'int32' }),
      labels: samples.some((s) => s.labels.some((l) => l !== -100)) ? tensor(labels, { shape: [B, T], dtype: 'int32' }) : null,
      pixelValues: images.length ? stackRows(images, [3, side, side]) : null,
      audioFeatures: audios.length && fe ? stackRows(audios, [fe.config.featureSize, fe.nFrames]) : null,
      audioLengths: samples.flatMap((s) => s.audioLengths),
      ...(images.length ? { imageSources: images } : {}),
    };
  }

  /** A sample as chunks for `TesseraModel.embedChunks` (runs of placeholders become media chunks). */
  chunks(sample: EncodedSample): Chunk[] {
    const out: Chunk[] = [];
    const fe = this.featureExtractor, side = this.imageProcessor ? this.imageSize() : 0;
    let text: number[] = [], image = 0, audio = 0;
    const ids = sample.inputIds;
    for (let t = 0; t < ids.length;) {
      const id = ids[t]!;
      if (id !== this.imageTokenId && id !== this.audioTokenId) { text.push(id); t++; continue; }
      if (text.length) out.push({ kind: 'text', ids: text });
      text = [];
      if (id === this.imageTokenId) {
        out.push({ kind: 'image', pixels: tensor(sample.pixelValues[image++]!, { shape: [3, side, side] }) });
        t += this.imageSeqLength;
      } else {
        const length = sample.audioLengths[audio]!;
        out.push({ kind: 'audio', features: tensor(sample.audioFeatures[audio++]!, { shape: [fe!.config.featureSize, fe!.nFrames] }), length });
        t += audioTokenCount(length);
      }
    }
    if (text.length) out.push({ kind: 'text', ids: text });
    return out;
  }

  private imageSize(): number {
    const size = this.imageProcessor!.config.size;
    if ('shortestEdge' in size || size.height !== size.width) throw new Error('tessera processor: image_processor.size must be a square {height, width}');
    return size.height;
  }
}
