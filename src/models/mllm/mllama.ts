// Mllama / Llama 3.2 Vision (transformers `MllamaForConditionalGeneration`): the tiled vision encoder, a linear
// `multi_modal_projector` to the text width, and a Llama decoder with gated cross-attention layers that read the
// projected vision tokens flattened over (image, tile, token). Images never enter the token stream: <|image|> is an
// ordinary embedded token and only `cross_attention_mask` ties text positions to tiles. Checkpoint keys equal the
// runtime names (`vision_model.*`, `multi_modal_projector.*`, `language_model.model.*`, `language_model.lm_head.weight`).
// Also here: the processor's `get_cross_attention_token_mask` + dense conversion, and greedy generation, which
// extends the cross-attention mask by repeating its last row (as transformers `generate`).
//
// Shapes: B batch, L tokens, I images per row, T tiles, N tokens per tile, C text width, V vocab.

import { Linear } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';
import { noGrad, slice, tensor, type Tensor } from '../../tensor/index.ts';
import { ConfigReader, type Json } from '../../io/hf/config.ts';
import { greedyGenerate, type GreedyResult } from '../llm/generate.ts';
import { MllamaCausalLM, parseMllamaTextConfig, type MllamaTextConfig } from '../llm/mllama-text.ts';
import { MllamaVisionModel, parseMllamaVisionConfig, type MllamaVisionConfig } from '../vision/mllama-vision.ts';
import { registerModel, type LoadedModel, type NamedTensors } from '../registry.ts';
import { loadCheckpointInto, requireInput } from './whisper.ts';

export interface MllamaConfig {
  readonly vision: MllamaVisionConfig;
  readonly text: MllamaTextConfig;
  readonly imageTokenId: number;
}

export function parseMllamaConfig(json: Json, where = 'config.json'): MllamaConfig {
  const c = new ConfigReader(json, where);
  const text = parseMllamaTextConfig(c.child('text_config').obj, `${where}:text_config`);
  return Object.freeze({
    vision: parseMllamaVisionConfig(c.child('vision_config').obj, `${where}:vision_config`),
    text,
    imageTokenId: c.int('image_token_index', text.vocabSize),
  });
}

/**
 * `get_cross_attention_token_mask` + `convert_sparse_cross_attention_mask_to_dense`: a token sees the tiles of the
 * last <|image|> at or before it; a run of consecutive <|image|> tokens all see what follows the run.
 * Returns [B][L][maxImages][maxTiles] as a flat 0/1 array with its shape.
 */
export function crossAttentionMaskFromIds(ids: readonly (readonly number[])[], imageTokenId: number, tilesPerImage: readonly (readonly number[])[],
  maxImages: number, maxTiles: number): { data: number[]; shape: [number, number, number, number] } {
  const B = ids.length, L = ids[0]?.length ?? 0;
  const data = new Array<number>(B * L * maxImages * maxTiles).fill(0);
  ids.forEach((row, b) => {
    const locs = row.flatMap((t, i) => (t === imageTokenId ? [i] : []));
    const spans = locs.map((s, k) => [s, k + 1 < locs.length ? locs[k + 1]! : L] as [number, number]);
    let lastEnd = spans[spans.length - 1]?.[1] ?? L;
    for (let k = spans.length - 1; k >= 0; k--) {
      if (spans[k]![0] === spans[k]![1] - 1) spans[k]![1] = lastEnd;
      lastEnd = spans[k]![1];
    }
    if (spans.length > maxImages) throw new Error(`mllama: row ${b} has ${spans.length} <|image|> tokens but room for ${maxImages} images`);
    spans.forEach(([start, end], k) => {
      const tiles = tilesPerImage[b]?.[k];
      if (tiles === undefined || tiles > maxTiles) throw new Error(`mllama: row ${b} image ${k} needs a tile count ≤ ${maxTiles}`);
      for (let t = start; t < end; t++) for (let j = 0; j < tiles; j++) data[((b * L + t) * maxImages + k) * maxTiles + j] = 1;
    });
  });
  return { data, shape: [B, L, maxImages, maxTiles] };
}

export interface MllamaOutput {
  visionLastHiddenState: Tensor | null; // [B, I, T, N, Dv·(1 + n)]
  crossAttentionStates: Tensor | null; // [B, I·T·N, C]
  textHiddenStates: Tensor[];
  logits: Tensor; // [B, L, V]
}

export interface MllamaImages {
  pixelValues: Tensor; // [B, I, T, 3, S, S]
  aspectRatioIds: Tensor; // [B, I]
  aspectRatioMask: Tensor; // [B, I, T]
  crossAttentionMask: Tensor; // [B, L, I, T]
}

export class Mllama extends Module {
  vision_model: MllamaVisionModel;
  multi_modal_projector: Linear;
  language_model: MllamaCausalLM;
  constructor(readonly config: MllamaConfig) {
    super();
    this.vision_model = new MllamaVisionModel(config.vision);
    this.multi_modal_projector = new Linear(config.vision.outputDim, config.text.hiddenSize);
    this.language_model = new MllamaCausalLM(config.text);
  }

  /** Projected vision tokens [B, I·T·N, C] and the raw vision output. */
  encodeImages(img: MllamaImages): { vision: Tensor; states: Tensor } {
    const vision = this.vision_model.forward(img.pixelValues, img.aspectRatioIds, img.aspectRatioMask);
    const B = vision.shape[0]!;
    return { vision, states: this.multi_modal_projector.forward(vision).reshape([B, -1, this.config.text.hiddenSize]) };
  }

  /** Without images the cross-attention layers are skipped (transformers' text-only path). */
  forward(ids: Tensor, attentionMask: Tensor | null, images: MllamaImages | null): MllamaOutput {
    const enc = images ? this.encodeImages(images) : null;
    const r = this.language_model.forward({
      inputIds: ids, attentionMask, crossAttentionStates: enc?.states ?? null,
      crossAttentionMask: images?.crossAttentionMask ?? null, tokensPerTile: this.vision_model.numTokens,
    });
    return { visionLastHiddenState: enc?.vision ?? null, crossAttentionStates: enc?.states ?? null, textHiddenStates: r.hiddenStates, logits: r.logits };
  }

  generate(ids: Tensor, attentionMask: Tensor | null, images: MllamaImages | null, maxNewTokens: number): GreedyResult {
    return noGrad(() => {
      const states = images ? this.encodeImages(images).states : null;
      const mask = images?.crossAttentionMask ?? null;
      const L = ids.shape[1]!;
      return greedyGenerate(ids, attentionMask, maxNewTokens, (step) => {
        const first = step.cache === null;
        // New tokens see what the prompt's last token saw.
        const cross = mask ? (first ? mask : slice(mask, 1, L - 1, L)) : null;
        const r = this.language_model.forward({
          inputIds: step.inputIds, attentionMask: step.attentionMask, positionIds: step.positionIds, cache: step.cache,
          crossAttentionStates: first ? states : null, crossAttentionMask: cross, tokensPerTile: this.vision_model.numTokens,
        });
        return { logits: r.logits, cache: r.cache };
      });
    });
  }
}

export function loadMllama(dir: string, raw: Record<string, unknown>): LoadedModel {
  const model = new Mllama(parseMllamaConfig(raw, `${dir}/config.json`)).eval();
  loadCheckpointInto(model, dir, (name) => name);
  const parse = (inputs: NamedTensors): [Tensor, Tensor | null, MllamaImages | null] => {
    const ids = requireInput(inputs, 'input_ids', 'mllama');
    const pixels = inputs.get('pixel_values');
    const images = pixels ? {
      pixelValues: pixels,
      aspectRatioIds: requireInput(inputs, 'aspect_ratio_ids', 'mllama'),
      aspectRatioMask: requireInput(inputs, 'aspect_ratio_mask', 'mllama'),
      crossAttentionMask: requireInput(inputs, 'cross_attention_mask', 'mllama'),
    } : null;
    return [ids, inputs.get('attention_mask') ?? null, images];
  };
  const forward = (inputs: NamedTensors): NamedTensors => {
    const o = model.forward(...parse(inputs));
    const out: NamedTensors = new Map([['logits', o.logits], ['text_hidden_states', stackStates(o.textHiddenStates)]]);
    if (o.visionLastHiddenState) out.set('vision_last_hidden_state', o.visionLastHiddenState);
    if (o.crossAttentionStates) out.set('cross_attention_states', o.crossAttentionStates);
    return out;
  };
  const generate = (inputs: NamedTensors, maxNewTokens: number): number[][] => model.generate(...parse(inputs), maxNewTokens).tokens;
  return { modelType: 'mllama', dir, config: raw, module: model, forward, checkpointKey: (n) => n, generate };
}

function stackStates(xs: Tensor[]): Tensor {
  const shape = xs[0]!.shape, size = xs[0]!.size, data = new Float32Array(size * xs.length);
  xs.forEach((x, i) => data.set(x.toFloat32Array(), i * size));
  return tensor(data, { shape: [xs.length, ...shape] });
}

registerModel(['mllama'], loadMllama);
