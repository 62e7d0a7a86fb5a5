// TesseraModel: tessera's own LLaVA-style multimodal model. A SigLIP vision tower whose `vision_feature_layer`
// output goes through an `mlp2x_gelu` projector (LLaVA-1.5, strategy "full"), a Whisper-style audio encoder with
// Qwen2-Audio's length mask, avg-pool by 2 and one Linear projector (Chu et al. 2024), and a Qwen2 CausalLM with
// tied embeddings. With config `projector_gate` each projector ends in a learned per-channel gain started at the
// text-embedding scale (gate.ts; folded into the last Linear on HF export). Media features replace the
// embeddings of their placeholder tokens in row-major order over the batch (transformers `masked_scatter`); the
// loss is ForCausalLMLoss (shift by one, mean over labels ≠ −100).
// Multimodal input may also be given as a list of chunks (text | image | audio) per sequence (`embedChunks`),
// as llama.cpp's mtmd does.
//
// Parameter prefixes (used by training stages): llm, vision, visionProjector, audio, audioProjector.
// Shapes: B batch, T tokens, C text width, I images, A audios, N tokens per image, M mel bins, F mel frames, V vocab.

import { Module } from '../../nn/module.ts';
import { concat, noGrad, slice, stack, tensor, type Tensor } from '../../tensor/index.ts';
import { WhisperEncoder } from '../audio/whisper.ts';
import type { KVCache } from '../llm/cache.ts';
import { CausalLM } from '../llm/decoder.ts';
import { greedyGenerate, type GreedyResult } from '../llm/generate.ts';
import { causalLmLoss } from '../mllm/llava.ts';
import { spliceFeatures } from '../mllm/splice.ts';
import { audioLengths } from '../mllm/qwen2-audio.ts';
import { LinearProjector } from '../projector/linear.ts';
import { MlpProjector } from '../projector/mlp.ts';
import { SiglipVisionTower } from '../vision/vit/siglip.ts';
import type { TesseraConfig } from './config.ts';
import { GatedLinearProjector, GatedMlpProjector } from './gate.ts';

/** One training or generation batch: markers already expanded to placeholder tokens by the processor. */
export interface TesseraBatch {
  /** [B, T] int32 */
  inputIds: Tensor;
  /** [B, T] 0/1 */
  attentionMask: Tensor;
  /** [B, T] int32, −100 where no loss; null for inference. */
  labels: Tensor | null;
  /** [I, 3, H, W] in marker order, row-major over the batch. */
  pixelValues: Tensor | null;
  /** [A, M, F] in marker order, row-major over the batch. */
  audioFeatures: Tensor | null;
  /** Valid mel frames of each audio (the rest of its F frames is padding). */
  audioLengths: number[];
  /** The array each image's pixels were copied from (collate), by which a frozen tower's outputs are kept. */
  imageSources?: readonly Float32Array[];
}

/** One piece of a sequence for `embedChunks`. */
export type Chunk =
  | { kind: 'text'; ids: readonly number[] }
  | { kind: 'image'; pixels: Tensor /* [3, H, W] */ }
  | { kind: 'audio'; features: Tensor /* [M, F] */; length: number };

export interface TesseraOutput {
  /** [B, T, V] */
  logits: Tensor;
  loss: Tensor | null;
  cache: KVCache;
}

/** Placeholder tokens an audio of `melFrames` valid frames gets (Qwen2-Audio's formula). */
export function audioTokenCount(melFrames: number): number {
  return audioLengths(melFrames).tokens;
}

export class TesseraModel extends Module {
  llm: CausalLM;
  vision: SiglipVisionTower | null;
  visionProjector: MlpProjector | null;
  audio: WhisperEncoder | null;
  audioProjector: LinearProjector | null;

  constructor(readonly config: TesseraConfig) {
    super();
    const C = config.text.hiddenSize;
    this.llm = new CausalLM(config.text);
    const v = config.vision;
    this.vision = v ? new SiglipVisionTower(v.vit) : null;
    const Mlp = config.projectorGate ? GatedMlpProjector : MlpProjector;
    this.visionProjector = v ? new Mlp({ inFeatures: v.vit.hiddenSize, outFeatures: C, act: v.projectorAct, bias: true }) : null;
    const a = config.audio;
    this.audio = a ? new WhisperEncoder(a.whisper) : null;
    this.audioProjector = a ? (config.projectorGate ? new GatedLinearProjector(a.whisper.dModel, C) : new LinearProjector(a.whisper.dModel, C)) : null;
  }

  /**
   * Keep the vision tower's outputs while it is frozen, by the pixel array each image came from: every stage after
   * the tower's own pretraining sees each training image many times and never changes the tower, so its forward
   * runs once per image. Used only for batches that name their images' arrays (`imageSources`) and only while no
   * tower parameter requires a gradient; a tower that trains again starts the cache afresh. The kept outputs are those
   * of the image's first batch: the same numbers up to rounding, which on blas varies with the batch's other images.
   */
  cacheFrozenVisionFeatures(on = true): void {
    this.visionCache = on ? new WeakMap() : null;
  }

  private visionCache: WeakMap<Float32Array, Float32Array> | null = null;

  /** pixels [I, 3, H, W] → [I, N, C]. Layers after the feature layer are never run. */
  imageFeatures(pixels: Tensor, sources?: readonly Float32Array[]): Tensor {
    const v = this.config.vision;
    if (!this.vision || !this.visionProjector || !v) throw new Error('tessera: this model has no vision tower, but images were given');
    const frozen = [...this.vision.parameters()].every((p) => !p.requiresGrad);
    if (this.visionCache && !frozen) this.visionCache = new WeakMap(); // a training tower makes what was kept stale
    const states = this.visionCache && sources && frozen
      ? this.keptTowerStates(pixels, sources, this.visionCache)
      : this.vision.forward(pixels, v.featureIndex).hiddenStates[v.featureIndex]!;
    return this.visionProjector.forward(states); // [I, N, C]
  }

  /** The frozen tower's feature layer for each image [I, N, Cv], run only on the arrays not seen before. */
  private keptTowerStates(pixels: Tensor, sources: readonly Float32Array[], kept: WeakMap<Float32Array, Float32Array>): Tensor {
    const [I] = pixels.shape as [number];
    if (sources.length !== I) throw new Error(`tessera: ${I} images but ${sources.length} image sources`);
    const fi = this.config.vision!.featureIndex;
    const missing = [...new Set(sources.filter((a) => !kept.has(a)))];
    if (missing.length) {
      const size = sources[0]!.length, input = new Float32Array(missing.length * size);
      missing.forEach((a, i) => input.set(a, i * size));
      const states = noGrad(() => this.vision!.forward(tensor(input, { shape: [missing.length, ...pixels.shape.slice(1)] }), fi).hiddenStates[fi]!);
      const flat = states.toFloat32Array(), per = flat.length / missing.length;
      missing.forEach((a, i) => kept.set(a, flat.slice(i * per, (i + 1) * per)));
    }
    const first = kept.get(sources[0]!)!, out = new Float32Array(I * first.length);
    sources.forEach((a, i) => out.set(kept.get(a)!, i * first.length));
    const hidden = this.config.vision!.vit.hiddenSize;
    return tensor(out, { shape: [I, first.length / hidden, hidden] });
  }

  /** features [A, M, F] with valid lengths → the kept rows of every audio, concatenated: [ΣN_a, C]. */
  audioFeatures(features: Tensor, lengths: readonly number[]): Tensor {
    const a = this.config.audio;
    if (!this.audio || !this.audioProjector || !a) throw new Error('tessera: this model has no audio encoder, but audio was given');
    const [A, , F] = features.shape as [number, number, number];
    if (lengths.length !== A) throw new Error(`tessera: ${A} audio feature rows but ${lengths.length} audio lengths`);
    const T = F / 2, keys = new Uint8Array(A * T), counts: number[] = [];
    lengths.forEach((L, i) => {
      if (!Number.isInteger(L) || L < 1 || L > F) throw new Error(`tessera: audio ${i} length ${L} must be an integer in [1, ${F}] mel frames`);
      const n = audioLengths(L);
      keys.fill(1, i * T, i * T + Math.min(T, n.encoderFrames));
      counts.push(n.tokens);
    });
    const mask = tensor(keys, { shape: [A, 1, 1, T], dtype: 'bool' });
    const pooled = this.audio.forward(features, { mask, poolStride: 2 }).lastHiddenState; // [A, T/2, Ca]
    const projected = this.audioProjector.forward(pooled); // [A, T/2, C]
    return concat(counts.map((n, i) => slice(slice(projected, 0, i, i + 1), 1, 0, n).squeeze(0)), 0); // [ΣN_a, C]
  }

  /** Token embeddings with image and audio features over their placeholder tokens. [B, T] → [B, T, C] */
  embed(inputIds: Tensor, pixelValues: Tensor | null, audio: { features: Tensor; lengths: readonly number[] } | null, imageSources?: readonly Float32Array[]): Tensor {
    let x = this.llm.model.embed(inputIds); // [B, T, C]
    const C = this.config.text.hiddenSize;
    const ids = inputIds.toList();
    if (pixelValues) {
      const f = this.imageFeatures(pixelValues, imageSources); // [I, N, C]
      x = spliceFeatures(x, inputIds, this.config.imageTokenId, f.reshape([f.shape[0]! * f.shape[1]!, C]), 'image');
    } else if (ids.includes(this.config.imageTokenId)) {
      throw new Error(`tessera: input_ids hold image tokens (id ${this.config.imageTokenId}) but no pixel values were given`);
    }
    if (audio) {
      x = spliceFeatures(x, inputIds, this.config.audioTokenId, this.audioFeatures(audio.features, audio.lengths), 'audio');
    } else if (ids.includes(this.config.audioTokenId)) {
      throw new Error(`tessera: input_ids hold audio tokens (id ${this.config.audioTokenId}) but no audio features were given`);
    }
    return x;
  }

  forward(batch: TesseraBatch, cache?: KVCache): TesseraOutput {
    const inputsEmbeds = this.embed(batch.inputIds, batch.pixelValues, mediaAudio(batch), batch.imageSources);
    const out = this.llm.forward({ inputsEmbeds, attentionMask: batch.attentionMask, ...(cache ? { cache } : {}) });
    return { logits: out.logits, loss: batch.labels ? causalLmLoss(out.logits, batch.labels) : null, cache: out.cache };
  }

  /**
   * One sequence given as chunks → its embeddings [1, T, C] and the ids with placeholders ([T]), equal to what
   * `embed` computes for the same sequence. Images and audios are encoded as one batch each.
   */
  embedChunks(chunks: readonly Chunk[]): { embeds: Tensor; inputIds: number[] } {
    const { imageTokenId, audioTokenId } = this.config;
    const images = chunks.flatMap((c) => (c.kind === 'image' ? [c.pixels] : []));
    const audios = chunks.flatMap((c) => (c.kind === 'audio' ? [c] : []));
    const imageRows = images.length ? this.imageFeatures(stack(images, 0)) : null; // [I, N, C]
    const audioRows = audios.length ? this.audioFeatures(stack(audios.map((a) => a.features), 0), audios.map((a) => a.length)) : null; // [ΣN, C]
    const pieces: Tensor[] = [], ids: number[] = [];
    let image = 0, audioRow = 0;
    chunks.forEach((c, i) => {
      if (c.kind === 'text') {
        const bad = c.ids.find((id) => id === imageTokenId || id === audioTokenId);
        if (bad !== undefined) throw new Error(`tessera: text chunk ${i} holds media placeholder id ${bad}; pass media as image/audio chunks`);
        if (!c.ids.length) return;
        pieces.push(this.llm.model.embed(tensor(Int32Array.from(c.ids), { shape: [1, c.ids.length], dtype: 'int32' })).squeeze(0));
        ids.push(...c.ids);
      } else if (c.kind === 'image') {
        const rows = slice(imageRows!, 0, image, image + 1).squeeze(0); // [N, C]
        image++;
        pieces.push(rows);
        ids.push(...new Array<number>(rows.shape[0]!).fill(imageTokenId));
      } else {
        const n = audioTokenCount(c.length);
        pieces.push(slice(audioRows!, 0, audioRow, audioRow + n));
        audioRow += n;
        ids.push(...new Array<number>(n).fill(audioTokenId));
      }
    });
    if (!pieces.length) throw new Error('tessera: embedChunks got no tokens');
    return { embeds: concat(pieces, 0).unsqueeze(0), inputIds: ids };
  }

  /** Greedy continuation of a left-padded batch, with a KV cache; media are encoded on the first step only. */
  generate(batch: TesseraBatch, maxNewTokens: number, eosTokenId: number | null = null): GreedyResult {
    return noGrad(() => greedyGenerate(batch.inputIds, batch.attentionMask, maxNewTokens, (s) => {
      const first = s.cache === null;
      const inputsEmbeds = first ? this.embed(s.inputIds, batch.pixelValues, mediaAudio(batch)) : this.llm.model.embed(s.inputIds);
      const out = this.llm.forward({
        inputsEmbeds, attentionMask: s.attentionMask, positionIds: s.positionIds, lastOnly: true, ...(s.cache ? { cache: s.cache } : {}),
      });
      return { logits: out.logits, cache: out.cache };
    }, eosTokenId));
  }
}

function mediaAudio(batch: TesseraBatch): { features: Tensor; lengths: readonly number[] } | null {
  return batch.audioFeatures ? { features: batch.audioFeatures, lengths: batch.audioLengths } : null;
}
