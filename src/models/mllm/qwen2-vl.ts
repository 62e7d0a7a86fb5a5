// Qwen2-VL (Wang et al. 2024; transformers `Qwen2VLForConditionalGeneration`): the native-resolution vision tower
// (src/models/vision/qwen2-vl.ts), whose merged features fill the image tokens of `input_ids` in row-major order,
// and a Qwen2 decoder with multimodal RoPE (src/models/llm/mrope.ts). As in transformers 5.x, a forward with
// `image_grid_thw` needs `mm_token_type_ids` (0 text, 1 image, 2 video) to place the M-RoPE ids; without media the
// ids are plain arange and M-RoPE reduces to RoPE.
// Parameter names are the runtime ones (`model.visual.*`, `model.language_model.*`, `lm_head.weight`); checkpoints
// saved in the original layout (`visual.*`, `model.*`) load too.
//
// Shapes: B batch, T tokens, N patches, M = N/m² image tokens, C text width, V vocab.

import { Linear } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';
import { linear, tensor, type Tensor } from '../../tensor/index.ts';
import { ConfigReader, type Json } from '../../io/hf/config.ts';
import { loadCheckpointInto } from '../../io/hf/llava-weights.ts';
import { parseLlmConfig, type LlmConfig } from '../llm/config.ts';
import { DecoderModel } from '../llm/decoder.ts';
import { mropeIndex, mropeTables, type RopeIndex } from '../llm/mrope.ts';
import { parseQwen2VlVisionConfig, Qwen2VlVisionTower, type Qwen2VlVisionConfig } from '../vision/qwen2-vl.ts';
import { registerModel, type LoadedModel, type NamedTensors } from '../registry.ts';
import { spliceFeatures } from './splice.ts';

export interface Qwen2VlConfig {
  readonly vision: Qwen2VlVisionConfig;
  readonly text: LlmConfig;
  readonly mropeSection: readonly number[];
  readonly imageTokenId: number;
}

export function parseQwen2VlConfig(json: Json, where = 'config.json'): Qwen2VlConfig {
  const c = new ConfigReader(json, where);
  const t = c.child('text_config');
  const tie = c.has('tie_word_embeddings') ? c.bool('tie_word_embeddings') : t.bool('tie_word_embeddings', false);
  // The text model is a Qwen2 decoder (`qwen2_vl_text`) whose rope parameters also carry mrope_section.
  const text = parseLlmConfig({ ...t.obj, model_type: 'qwen2', tie_word_embeddings: tie }, t.where);
  const rope = t.optChild('rope_parameters') ?? t.optChild('rope_scaling');
  const section = rope?.obj.mrope_section;
  if (!Array.isArray(section) || !section.every((v) => Number.isInteger(v) && v > 0)) {
    throw new Error(`${t.where}: rope_parameters.mrope_section must be a list of positive integers, got ${JSON.stringify(section)}`);
  }
  if (section.reduce((s: number, v: number) => s + v, 0) !== text.headDim / 2) {
    throw new Error(`${t.where}: mrope_section [${section.join(', ')}] must sum to head_dim/2 = ${text.headDim / 2}`);
  }
  return Object.freeze({
    vision: parseQwen2VlVisionConfig(c.child('vision_config').obj, `${where}:vision_config`),
    text, mropeSection: section as number[], imageTokenId: c.int('image_token_id', 151655),
  });
}

export interface Qwen2VlInput {
  inputIds: Tensor;
  attentionMask?: Tensor | null;
  /** [N, C·Tp·P·P] flattened patches of all images. */
  pixelValues?: Tensor | null;
  /** [images, 3] (t, h, w) in patches. */
  imageGridThw?: Tensor | null;
  /** [B, T] 0 text, 1 image, 2 video. */
  mmTokenTypeIds?: Tensor | null;
}

export interface Qwen2VlOutput {
  logits: Tensor; // [B, T, V]
  /** null when positions are plain arange (no media). */
  ropeIndex: RopeIndex | null;
  imageEmbeds: Tensor | null; // [M, C]
}

class Qwen2VlBody extends Module {
  visual: Qwen2VlVisionTower;
  language_model: DecoderModel;
  constructor(cfg: Qwen2VlConfig) {
    super();
    this.visual = new Qwen2VlVisionTower(cfg.vision);
    this.language_model = new DecoderModel(cfg.text);
  }
}

export class Qwen2Vl extends Module {
  model: Qwen2VlBody;
  lm_head: Linear | null;
  constructor(readonly cfg: Qwen2VlConfig) {
    super();
    this.model = new Qwen2VlBody(cfg);
    this.lm_head = cfg.text.tieWordEmbeddings ? null : new Linear(cfg.text.hiddenSize, cfg.text.vocabSize, { bias: false });
  }

  forward(input: Qwen2VlInput): Qwen2VlOutput {
    const { inputIds } = input;
    if (inputIds.ndim !== 2) throw new Error(`qwen2-vl: input_ids must be [B, T], got [${inputIds.shape.join(', ')}]`);
    const [B, T] = inputIds.shape as [number, number];
    const grids = input.imageGridThw ? gridRows(input.imageGridThw) : null;
    let embeds = this.model.language_model.embed(inputIds); // [B, T, C]
    let imageEmbeds: Tensor | null = null;
    if (input.pixelValues) {
      if (!grids) throw new Error('qwen2-vl: pixel_values need image_grid_thw');
      imageEmbeds = this.model.visual.forward(input.pixelValues, grids).merged; // [M, C]
      embeds = spliceFeatures(embeds, inputIds, this.cfg.imageTokenId, imageEmbeds);
    } else if (inputIds.toList().includes(this.cfg.imageTokenId)) {
      throw new Error(`qwen2-vl: input_ids hold image tokens (id ${this.cfg.imageTokenId}) but no pixel_values were given`);
    }
    let ropeIndex: RopeIndex | null = null;
    if (grids) {
      if (!input.mmTokenTypeIds) throw new Error('qwen2-vl: image_grid_thw was given but mm_token_type_ids is missing (transformers 5.x needs it to place the M-RoPE ids; the processor returns it)');
      if (input.mmTokenTypeIds.shape[0] !== B || input.mmTokenTypeIds.shape[1] !== T) {
        throw new Error(`qwen2-vl: mm_token_type_ids [${input.mmTokenTypeIds.shape.join(', ')}] should be [${B}, ${T}] like input_ids`);
      }
      ropeIndex = mropeIndex(input.mmTokenTypeIds, { image: grids, video: [] }, this.cfg.vision.spatialMergeSize, input.attentionMask ?? null);
    }
    const rope = ropeIndex ? mropeTables(this.cfg.text.rope.theta, this.cfg.text.headDim, this.cfg.mropeSection, ropeIndex.positions) : null;
    const h = this.model.language_model.forward({ inputsEmbeds: embeds, attentionMask: input.attentionMask ?? null, rope }).lastHiddenState;
    return { logits: linear(h, this.lm_head?.weight ?? this.model.language_model.embed_tokens.weight), ropeIndex, imageEmbeds };
  }
}

function gridRows(thw: Tensor): number[][] {
  if (thw.ndim !== 2 || thw.shape[1] !== 3) throw new Error(`qwen2-vl: image_grid_thw must be [images, 3], got [${thw.shape.join(', ')}]`);
  const v = thw.toList();
  return Array.from({ length: thw.shape[0]! }, (_, i) => v.slice(3 * i, 3 * i + 3));
}

/** Checkpoint key → runtime name, for the original (`visual.*`, `model.*`) and the runtime layout. */
export function qwen2VlRuntimeName(key: string): string | null {
  if (key === 'lm_head.weight' || key.startsWith('model.visual.') || key.startsWith('model.language_model.')) return key;
  if (key.startsWith('visual.')) return `model.${key}`;
  if (key.startsWith('model.')) return `model.language_model.${key.slice('model.'.length)}`;
  return null;
}

export function loadQwen2Vl(dir: string, config: Record<string, unknown>): LoadedModel & { module: Qwen2Vl } {
  const module = new Qwen2Vl(parseQwen2VlConfig(config, `${dir}/config.json`));
  const report = loadCheckpointInto(module, dir, qwen2VlRuntimeName, new Set(['lm_head.weight']));
  module.eval();
  return {
    modelType: 'qwen2_vl', dir, config, module,
    forward(inputs: NamedTensors): NamedTensors {
      const inputIds = inputs.get('input_ids');
      if (!inputIds) throw new Error('qwen2-vl forward: inputs need "input_ids"');
      const out = module.forward({
        inputIds, attentionMask: inputs.get('attention_mask') ?? null, pixelValues: inputs.get('pixel_values') ?? null,
        imageGridThw: inputs.get('image_grid_thw') ?? null, mmTokenTypeIds: inputs.get('mm_token_type_ids') ?? null,
      });
      const result: NamedTensors = new Map([['logits', out.logits]]);
      if (out.ropeIndex) {
        const { positions, deltas } = out.ropeIndex;
        const [B, T] = [deltas.length, positions[0][0]!.length];
        result.set('mrope_position_ids', tensor(positions.flatMap((r) => r.flat()), { shape: [3, B, T], dtype: 'int32' }));
        result.set('mrope_position_deltas', tensor(deltas, { shape: [B, 1], dtype: 'int32' }));
      }
      if (out.imageEmbeds) result.set('image_embeds', out.imageEmbeds);
      return result;
    },
    checkpointKey: (name) => report.keyOf.get(name) ?? name,
  };
}

registerModel(['qwen2_vl'], loadQwen2Vl);
