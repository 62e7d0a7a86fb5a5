// Decoder VLMs, the LLaVA recipe (Liu et al. 2023; transformers `*ForConditionalGeneration` of LLaVA, InternVL,
// DeepSeek-VL(-hybrid), Idefics3): a family-specific image encoder + projector gives rows that replace the image
// tokens of input_ids (the processor already expanded them), then a causal decoder and an lm_head that is either
// its own Linear or tied to embed_tokens. What the families share lives here: the splice, the head, forward with
// transformers' ForCausalLMLoss, greedy generation that sees the images on the first step only, and the named-input
// entry points of a LoadedModel. Each family keeps its parameter tree (and so its checkpoint keys) in its own file.
//
// Shapes: B batch, T tokens, I images (or tiles), N rows per image, C text width, V vocab.

import { Linear } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';
import { crossEntropy, linear, noGrad, slice, tensor, type Tensor } from '../../tensor/index.ts';
import type { KVCache } from '../llm/cache.ts';
import type { ConfigReader } from '../../io/hf/config.ts';
import { parseLlmConfig, type LlmConfig } from '../llm/config.ts';
import type { DecoderModel } from '../llm/decoder.ts';
import { greedyGenerate, type GreedyResult } from '../llm/generate.ts';
import type { LoadedModel, NamedTensors } from '../registry.ts';
import { spliceFeatures } from './splice.ts';

/** What a family's image features must carry: the projector output that is spliced into the text. */
export interface ImageRows {
  /** [I, N, C] */
  readonly projected: Tensor;
}

export interface DecoderVlmInput {
  inputIds: Tensor;
  pixelValues?: Tensor | null;
  attentionMask?: Tensor | null;
  positionIds?: Tensor | null;
  labels?: Tensor | null;
  cache?: KVCache;
  outputHiddenStates?: boolean;
}

export interface DecoderVlmOutput<F extends ImageRows> {
  logits: Tensor; // [B, T, V]
  loss: Tensor | null;
  cache: KVCache;
  inputsEmbeds: Tensor; // [B, T, C]
  textHiddenStates: Tensor[] | null;
  image: F | null;
}

/** `text_config`, where a top-level `tie_word_embeddings` (transformers' composite configs) wins over the inner one. */
export function parseVlmTextConfig(c: ConfigReader, where: string): LlmConfig {
  const textJson = c.child('text_config').obj;
  const tie = c.has('tie_word_embeddings') ? c.bool('tie_word_embeddings') : null;
  return parseLlmConfig(tie === null ? textJson : { ...textJson, tie_word_embeddings: tie }, `${where}:text_config`);
}

/** transformers ForCausalLMLoss: predict token t+1 from position t; mean over all labels != -100 in the batch. */
export function causalLmLoss(logits: Tensor, labels: Tensor): Tensor {
  const [B, T, V] = logits.shape as [number, number, number];
  if (labels.ndim !== 2 || labels.shape[0] !== B || labels.shape[1] !== T) throw new Error(`loss: labels [${labels.shape.join(', ')}] should be [${B}, ${T}] like the logits`);
  // the labels move left one place and the last position of each row is ignored (transformers pads the labels
  // the same way), so the logits are read in place: a slice of them cost a copy forward and a zero-filled
  // scatter of [B, T, V] backward
  const l = labels.toFloat64(), shifted = new Int32Array(B * T).fill(-100);
  for (let b = 0; b < B; b++) for (let t = 0; t < T - 1; t++) shifted[b * T + t] = l[b * T + t + 1]!;
  return crossEntropy(logits.reshape([B * T, V]), tensor(shifted, { shape: [B * T], dtype: 'int32' }), { ignoreIndex: -100 });
}

/**
 * The shared half of a decoder VLM. A family names its decoder and lm_head, and says how an input becomes image
 * features (`imagesOf`); embed, head, forward and greedy generation follow. No parameters live here, so each
 * family's parameters keep the order and names of its transformers module.
 */
export abstract class DecoderVlm<In extends DecoderVlmInput, F extends ImageRows> extends Module {
  abstract readonly cfg: { readonly imageTokenId: number };
  abstract lm_head: Linear | null;
  /** The text decoder (`model.language_model`, or Idefics3's `model.text_model`). */
  abstract get decoder(): DecoderModel;
  /** Features of the images the input carries, or null when it carries none; errors name the bad input. */
  protected abstract imagesOf(input: In): F | null;

  /** `model` and `imageTokens` name the family and its image tokens in error messages. */
  constructor(private readonly names: { readonly model: string; readonly imageTokens: string }) {
    super();
  }

  /** Token embeddings before the splice; LLaVA overrides it for an image id outside the vocabulary. [B, T] → [B, T, C] */
  protected tokenEmbeds(inputIds: Tensor): Tensor {
    return this.decoder.embed(inputIds);
  }

  /** Token embeddings with the image rows over the image tokens, in row-major order across the batch. [B, T] → [B, T, C] */
  embed(inputIds: Tensor, image: F | null): Tensor {
    const id = this.cfg.imageTokenId;
    const embeds = this.tokenEmbeds(inputIds);
    if (!image) {
      if (inputIds.toList().includes(id)) throw new Error(`${this.names.model}: input_ids hold ${this.names.imageTokens} (id ${id}) but no pixel_values were given`);
      return embeds;
    }
    const [I, N, C] = image.projected.shape as [number, number, number];
    return spliceFeatures(embeds, inputIds, id, image.projected.reshape([I * N, C]));
  }

  /** [.., C] → [.., V] */
  head(h: Tensor): Tensor {
    return linear(h, this.lm_head?.weight ?? this.decoder.embed_tokens.weight);
  }

  forward(input: In): DecoderVlmOutput<F> {
    const image = this.imagesOf(input);
    const inputsEmbeds = this.embed(input.inputIds, image);
    const out = this.decoder.forward({
      inputsEmbeds, attentionMask: input.attentionMask ?? null, positionIds: input.positionIds ?? null,
      outputHiddenStates: input.outputHiddenStates ?? false, ...(input.cache ? { cache: input.cache } : {}),
    });
    const logits = this.head(out.lastHiddenState);
    return { logits, loss: input.labels ? causalLmLoss(logits, input.labels) : null, cache: out.cache, inputsEmbeds, textHiddenStates: out.hiddenStates, image };
  }

  /** Greedy continuation of input_ids (left padding as transformers generate) and the raw logits of each step. */
  greedy(input: In, maxNewTokens: number): GreedyResult {
    return greedyGenerate(input.inputIds, input.attentionMask ?? null, maxNewTokens, (s) => {
      // Later steps feed one new token each; the image rows are already in the cache.
      const image = s.cache === null ? this.imagesOf(input) : null;
      const out = this.decoder.forward({
        inputsEmbeds: this.embed(s.inputIds, image), attentionMask: s.attentionMask, positionIds: s.positionIds,
        ...(s.cache ? { cache: s.cache } : {}),
      });
      const T = out.lastHiddenState.shape[1]!;
      return { logits: this.head(slice(out.lastHiddenState, 1, T - 1, T)), cache: out.cache }; // [B, 1, V]
    });
  }
}

/** A decoder VLM whose images come as one pixel_values tensor (LLaVA, InternVL tiles, DeepSeek-VL). */
export abstract class PixelValuesVlm<F extends ImageRows> extends DecoderVlm<DecoderVlmInput, F> {
  /** pixels [I, 3, H, W] → the family's image features. */
  abstract imageFeatures(pixels: Tensor): F;

  protected imagesOf(input: DecoderVlmInput): F | null {
    return input.pixelValues ? this.imageFeatures(input.pixelValues) : null;
  }

  /** Greedy continuation (left padding as transformers generate) and the raw logits of each step. */
  generate(inputIds: Tensor, pixelValues: Tensor | null, attentionMask: Tensor | null, maxNewTokens: number): GreedyResult {
    return this.greedy({ inputIds, pixelValues, attentionMask }, maxNewTokens);
  }
}

/** `lm_head`: its own Linear, or null when tied to embed_tokens. */
export function lmHead(text: LlmConfig): Linear | null {
  return text.tieWordEmbeddings ? null : new Linear(text.hiddenSize, text.vocabSize, { bias: false });
}

/** The common named inputs of a decoder VLM; `what` ("llava forward") names the caller when input_ids are missing. */
export function namedVlmInput(inputs: NamedTensors, what: string): DecoderVlmInput {
  const inputIds = inputs.get('input_ids');
  if (!inputIds) throw new Error(`${what}: inputs need "input_ids"`);
  const arg = (name: string): Tensor | null => inputs.get(name) ?? null;
  return { inputIds, pixelValues: arg('pixel_values'), attentionMask: arg('attention_mask'), positionIds: arg('position_ids'), labels: arg('labels') };
}

/**
 * A LoadedModel's forward (`logits`, plus `loss` with `labels`) and generate for a decoder VLM. `toInput` turns
 * named tensors into the family's input (`namedVlmInput`, or that plus a family's extra pixel inputs).
 */
export function vlmEntryPoints<In extends DecoderVlmInput, F extends ImageRows>(
  model: string, module: DecoderVlm<In, F>, toInput: (inputs: NamedTensors, what: string) => In,
): Required<Pick<LoadedModel, 'forward' | 'generate'>> {
  return {
    forward(inputs: NamedTensors): NamedTensors {
      const out = module.forward(toInput(inputs, `${model} forward`));
      const result: NamedTensors = new Map([['logits', out.logits]]);
      if (out.loss) result.set('loss', out.loss);
      return result;
    },
    generate(inputs: NamedTensors, maxNewTokens: number): number[][] {
      const input = toInput(inputs, `${model} generate`);
      return noGrad(() => module.greedy(input, maxNewTokens).tokens);
    },
  };
}
