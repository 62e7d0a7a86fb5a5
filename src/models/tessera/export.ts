// Export a tessera checkpoint to folders that transformers loads:
// - `hf-llava`: the vision-language part as `LlavaForConditionalGeneration` (SigLIP `vision_config`, Qwen2
//   `text_config`, `vision_feature_select_strategy: "full"`, the mlp2x_gelu projector as
//   `multi_modal_projector.linear_1/linear_2`), keys in the `save_pretrained` layout of transformers 5.x
//   (`vision_tower.*` without `vision_model.`, `language_model.model.*`, no lm_head when tied);
// - `hf-qwen2-audio`: the audio-language part as `Qwen2AudioForConditionalGeneration`. tessera's audio path is
//   Qwen2-Audio's by design (Whisper encoder on 2·max_source_positions frames, key mask from the valid length,
//   avg-pool 2, one Linear `multi_modal_projector.linear`), so the weights map one to one. The lm_head is written
//   out (a copy of the tied embeddings) with `tie_word_embeddings: false`, which loads the same in every version.
// Both folders also get the tokenizer files and an HF preprocessor config. scripts/check_hf_export.py compares
// their logits with tessera's.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors, type TensorData } from '../../io/safetensors.ts';
import { snakeCase } from '../mllm/whisper.ts';
import { foldGate, isGated } from './gate.ts';
import type { TesseraModel } from './model.ts';
import type { TesseraProcessor } from './processor.ts';

export const exportFormats = ['hf-llava', 'hf-qwen2-audio'] as const;
export type ExportFormat = (typeof exportFormats)[number];

const f32 = (t: { shape: readonly number[]; toFloat32Array(): Float32Array }): TensorData => ({ dtype: 'float32', shape: [...t.shape], data: t.toFloat32Array() });

/** LLaVA checkpoint key of a tessera parameter, or null when the LLaVA model has no such part (audio). */
export function llavaKey(name: string): string | null {
  if (name.startsWith('llm.model.')) return `language_model.model.${name.slice('llm.model.'.length)}`;
  if (name.startsWith('llm.lm_head.')) return `language_model.lm_head.${name.slice('llm.lm_head.'.length)}`;
  if (name.startsWith('vision.')) return `vision_tower.${name.slice('vision.'.length)}`;
  if (name.startsWith('visionProjector.')) return `multi_modal_projector.${name.slice('visionProjector.'.length)}`;
  return null;
}

/** Qwen2-Audio checkpoint key of a tessera parameter, or null for the vision parts. */
export function qwen2AudioKey(name: string): string | null {
  if (name.startsWith('llm.model.')) return `language_model.model.${name.slice('llm.model.'.length)}`;
  if (name.startsWith('llm.lm_head.')) return `language_model.lm_head.${name.slice('llm.lm_head.'.length)}`;
  if (name.startsWith('audio.')) return `audio_tower.${snakeCase(name.slice('audio.'.length))}`;
  if (name.startsWith('audioProjector.')) return `multi_modal_projector.${name.slice('audioProjector.'.length)}`;
  return null;
}

/** The tensors of one export format under their transformers checkpoint keys. */
export function exportTensors(model: TesseraModel, format: ExportFormat): Record<string, TensorData> {
  const keyOf = format === 'hf-llava' ? llavaKey : qwen2AudioKey;
  const out: Record<string, TensorData> = {};
  // a gated projector is exported as the plain one with its gate folded into the last Linear (exact)
  const folded = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [prefix, m] of [['visionProjector', model.visionProjector], ['audioProjector', model.audioProjector]] as const) {
    if (isGated(m)) for (const [k, v] of foldGate(prefix, m)) folded.set(k, v);
  }
  for (const [name, p] of model.namedParameters()) {
    const key = keyOf(name);
    if (!key || name.endsWith('Projector.gate')) continue;
    const f = folded.get(name);
    out[key] = f ? { dtype: 'float32', shape: f.shape, data: f.data } : f32(p);
  }
  if (format === 'hf-qwen2-audio' && !model.llm.lm_head) out['language_model.lm_head.weight'] = f32(model.llm.model.embed_tokens.weight);
  return out;
}

function textConfig(model: TesseraModel, processor: TesseraProcessor, tied: boolean): Record<string, unknown> {
  return { ...model.config.textJson, model_type: 'qwen2', tie_word_embeddings: tied, eos_token_id: processor.eosTokenId, pad_token_id: null };
}

function llavaFiles(model: TesseraModel, processor: TesseraProcessor): Record<string, unknown> {
  const v = model.config.vision;
  if (!v) throw new Error('export hf-llava: this tessera model has no vision tower');
  const tied = model.llm.lm_head === null;
  const imageProcessor = processor.files.preprocessor.image_processor as Record<string, unknown>;
  return {
    'config.json': {
      architectures: ['LlavaForConditionalGeneration'], model_type: 'llava',
      text_config: textConfig(model, processor, tied),
      vision_config: { ...v.json, model_type: 'siglip_vision_model' },
      vision_feature_layer: v.featureLayer, vision_feature_select_strategy: 'full',
      image_token_index: model.config.imageTokenId, image_seq_length: v.tokensPerImage,
      projector_hidden_act: v.projectorAct, multimodal_projector_bias: true, tie_word_embeddings: tied,
    },
    'preprocessor_config.json': { ...imageProcessor, processor_class: 'LlavaProcessor' },
    'processor_config.json': {
      processor_class: 'LlavaProcessor', image_token: '<image>', patch_size: v.vit.patchSize,
      vision_feature_select_strategy: 'full', num_additional_image_tokens: 0,
    },
  };
}

function qwen2AudioFiles(model: TesseraModel, processor: TesseraProcessor): Record<string, unknown> {
  const a = model.config.audio;
  if (!a) throw new Error('export hf-qwen2-audio: this tessera model has no audio encoder');
  return {
    'config.json': {
      architectures: ['Qwen2AudioForConditionalGeneration'], model_type: 'qwen2_audio',
      audio_config: { ...a.json, model_type: 'qwen2_audio_encoder' },
      text_config: textConfig(model, processor, false),
      audio_token_index: model.config.audioTokenId,
    },
    'preprocessor_config.json': { ...(processor.files.preprocessor.feature_extractor as Record<string, unknown>) },
  };
}

/** Writes the export folder; returns the checkpoint keys written. */
export function exportTessera(model: TesseraModel, processor: TesseraProcessor, format: ExportFormat, outDir: string): string[] {
  if (!exportFormats.includes(format)) throw new Error(`export: unknown format "${String(format)}" (known: ${exportFormats.join(', ')})`);
  const files = format === 'hf-llava' ? llavaFiles(model, processor) : qwen2AudioFiles(model, processor);
  const tensors = exportTensors(model, format);
  mkdirSync(outDir, { recursive: true });
  writeSafetensors(join(outDir, 'model.safetensors'), tensors, { format: 'pt' });
  const f = processor.files;
  const all: Record<string, unknown> = {
    ...files,
    'tokenizer.json': f.tokenizerJson,
    'tokenizer_config.json': { ...f.tokenizerConfig, chat_template: f.chatTemplate },
    'generation_config.json': { eos_token_id: processor.eosTokenId, pad_token_id: processor.padTokenId },
  };
  for (const [name, v] of Object.entries(all)) writeFileSync(join(outDir, name), JSON.stringify(v, null, 2) + '\n');
  writeFileSync(join(outDir, 'chat_template.jinja'), f.chatTemplate);
  return Object.keys(tensors);
}
