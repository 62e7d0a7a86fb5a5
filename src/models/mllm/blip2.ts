// BLIP-2 with an OPT decoder (Li et al. 2023; transformers `Blip2ForConditionalGeneration`): the BLIP vision
// tower's post-normed features feed a Q-Former over `num_query_tokens` learned queries, `language_projection`
// maps its output to the decoder width, and those rows replace the `image_token_index` tokens of `input_ids`
// (the processor put num_query_tokens of them before BOS), in row-major order across the batch. The OPT
// decoder then runs with positions from the attention mask. Loss: transformers' ForCausalLMLoss (shift by one,
// mean over labels != −100 in the whole batch).
//
// Checkpoint keys: `vision_model.*`, `query_tokens`, `qformer.*`, `language_projection.*`,
// `language_model.model.decoder.*` (+ `language_model.lm_head.weight` only when untied).
//
// Shapes: B batch, T tokens, Q queries, N vision tokens, Cv/Cq/Ct vision/Q-Former/text widths, V vocab.

import { Linear } from '../../nn/layers.ts';
import { Module, parameter, type Parameter } from '../../nn/module.ts';
import { normalInit } from '../../nn/init.ts';
import { indexSelect, tensor, where, type Tensor } from '../../tensor/index.ts';
import { OptDecoder, parseOptConfig, type OptConfig } from '../llm/opt.ts';
import { parseQFormerConfig, QFormer, qformerKey, type QFormerConfig } from '../projector/qformer.ts';
import { BlipVisionModel, parseBlipVisionConfig, type BlipVisionConfig } from '../vision/blip.ts';
import { registerModel, type LoadedModel, type NamedTensors } from '../registry.ts';
import { loadCheckpointInto, requireInput, snakeCase } from './whisper.ts';
import { causalLmLoss } from './vlm.ts';

export interface Blip2Config {
  readonly vision: BlipVisionConfig;
  readonly qformer: QFormerConfig;
  readonly text: OptConfig;
  readonly numQueryTokens: number;
  readonly imageTokenId: number;
}

function section(cfg: Record<string, unknown>, key: string, where: string): Record<string, unknown> {
  const v = cfg[key];
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}: "${key}" must be an object`);
  return v as Record<string, unknown>;
}

export function parseBlip2Config(cfg: Record<string, unknown>, where = 'blip-2 config'): Blip2Config {
  const text = section(cfg, 'text_config', where);
  if (text.model_type !== undefined && text.model_type !== 'opt') {
    throw new Error(`${where}: text_config.model_type "${String(text.model_type)}" is not supported (only "opt")`);
  }
  if (text.tie_word_embeddings === false) throw new Error(`${where}: an untied OPT head (tie_word_embeddings=false) is not supported`);
  const q = cfg.num_query_tokens, img = cfg.image_token_index ?? cfg.image_token_id;
  if (typeof q !== 'number' || q < 1) throw new Error(`${where}: "num_query_tokens" must be a positive number`);
  if (typeof img !== 'number') throw new Error(`${where}: "image_token_index" must be a number (the processor's image token)`);
  return Object.freeze({
    vision: parseBlipVisionConfig(section(cfg, 'vision_config', where), `${where} vision_config`),
    qformer: parseQFormerConfig(section(cfg, 'qformer_config', where), `${where} qformer_config`),
    text: parseOptConfig(text, `${where} text_config`),
    numQueryTokens: q,
    imageTokenId: img,
  });
}

export interface Blip2Output {
  visionLastHiddenState: Tensor; // [B, N, Cv]
  qformerLastHiddenState: Tensor; // [B, Q, Cq]
  languageProjectionOutput: Tensor; // [B, Q, Ct]
  logits: Tensor; // [B, T, V]
  loss: Tensor | null;
}

export class Blip2 extends Module {
  visionModel: BlipVisionModel;
  queryTokens: Parameter;
  qformer: QFormer;
  languageProjection: Linear;
  languageModel: OptDecoder;
  constructor(readonly config: Blip2Config) {
    super();
    const c = config;
    this.visionModel = new BlipVisionModel(c.vision);
    this.queryTokens = parameter([1, c.numQueryTokens, c.qformer.hiddenSize], normalInit(0.02));
    this.qformer = new QFormer(c.qformer);
    this.languageProjection = new Linear(c.qformer.hiddenSize, c.text.hiddenSize);
    this.languageModel = new OptDecoder(c.text);
  }

  /** Projected query outputs for each image: pixels [B, 3, S, S] → stages up to [B, Q, Ct]. */
  encodeImages(pixels: Tensor): Pick<Blip2Output, 'visionLastHiddenState' | 'qformerLastHiddenState' | 'languageProjectionOutput'> {
    const c = this.config, B = pixels.shape[0]!;
    const vision = this.visionModel.forward(pixels).lastHiddenState; // [B, N, Cv]
    const queries = this.queryTokens.expand([B, c.numQueryTokens, c.qformer.hiddenSize]); // [B, Q, Cq]
    const q = this.qformer.forward(queries, vision); // [B, Q, Cq]
    return { visionLastHiddenState: vision, qformerLastHiddenState: q, languageProjectionOutput: this.languageProjection.forward(q) };
  }

  /** Token embeddings with the image rows spliced in at the image tokens, row-major across the batch. */
  spliceImages(ids: Tensor, imageRows: Tensor): Tensor {
    const [B, T] = ids.shape as [number, number];
    const embeds = this.languageModel.embed(ids); // [B, T, Ct]
    const C = embeds.shape[2]!;
    const rows = imageRows.reshape([-1, C]); // [B·Q, Ct]
    const idv = ids.toFloat64(), pick = new Int32Array(B * T), isImage = new Uint8Array(B * T);
    let k = 0;
    for (let i = 0; i < B * T; i++) if (idv[i] === this.config.imageTokenId) { isImage[i] = 1; pick[i] = k++; }
    if (k !== rows.shape[0]) {
      throw new Error(`blip-2: input_ids hold ${k} image tokens (id ${this.config.imageTokenId}) but the images give ${rows.shape[0]} query rows ` +
        `(${this.config.numQueryTokens} per image); the processor must expand them`);
    }
    if (k === 0) return embeds;
    const gathered = indexSelect(rows, 0, tensor(pick, { shape: [B * T], dtype: 'int32' })).reshape([B, T, C]); // [B, T, Ct]
    return where(tensor(isImage, { shape: [B, T, 1], dtype: 'bool' }), gathered, embeds);
  }

  forward(pixels: Tensor, ids: Tensor, attentionMask: Tensor | null, labels: Tensor | null = null): Blip2Output {
    const stages = this.encodeImages(pixels);
    const embeds = this.spliceImages(ids, stages.languageProjectionOutput); // [B, T, Ct]
    const hidden = this.languageModel.forward(embeds, attentionMask); // [B, T, Ct]
    const logits = this.languageModel.logits(hidden); // [B, T, V]
    return { ...stages, logits, loss: labels ? causalLmLoss(logits, labels) : null };
  }
}

/** Runtime parameter name → checkpoint key. */
export function blip2CheckpointKey(name: string): string {
  const dot = name.indexOf('.'), head = dot < 0 ? name : name.slice(0, dot), rest = dot < 0 ? '' : name.slice(dot + 1);
  switch (head) {
    case 'visionModel': return `vision_model.${snakeCase(rest)}`;
    case 'qformer': return `qformer.${qformerKey(rest)}`;
    case 'languageModel': return `language_model.model.decoder.${snakeCase(rest)}`;
    default: return snakeCase(name);
  }
}

export function loadBlip2(dir: string, raw: Record<string, unknown>): LoadedModel {
  const model = new Blip2(parseBlip2Config(raw, `${dir}/config.json`)).eval();
  loadCheckpointInto(model, dir, blip2CheckpointKey);
  const forward = (inputs: NamedTensors): NamedTensors => {
    const labels = inputs.get('labels') ?? null;
    const o = model.forward(requireInput(inputs, 'pixel_values', 'blip-2'), requireInput(inputs, 'input_ids', 'blip-2'),
      inputs.get('attention_mask') ?? null, labels);
    const out: NamedTensors = new Map([
      ['vision_last_hidden_state', o.visionLastHiddenState],
      ['qformer_last_hidden_state', o.qformerLastHiddenState],
      ['language_projection_output', o.languageProjectionOutput],
      ['logits', o.logits],
    ]);
    if (o.loss) out.set('loss', o.loss);
    return out;
  };
  return { modelType: 'blip-2', dir, config: raw, module: model, forward, checkpointKey: blip2CheckpointKey };
}

registerModel(['blip-2'], loadBlip2);
