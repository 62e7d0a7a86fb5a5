// tessera's own multimodal model config (`model_type: "tessera"`): a nested, typed, frozen config per part.
// Each part keeps the Hugging Face JSON it is written in (Qwen2 `text_config`, SigLIP `vision_config`,
// `qwen2_audio_encoder` `audio_config`), so the same objects go into config.json, into the part's own parser
// (src/models/llm/config.ts, vision/vit/config.ts, audio/whisper.ts) and into the LLaVA / Qwen2-Audio exports.
//
// config.json:
//   { "model_type": "tessera", "text_config": {qwen2…}, "vision_config"?: {siglip_vision_model…},
//     "audio_config"?: {qwen2_audio_encoder…}, "image_token_id", "audio_token_id", "vision_feature_layer",
//     "projector_hidden_act", "image_seq_length" }
// The audio path is Qwen2-Audio's (key mask from the valid length, avg-pool by 2, one Linear), so that it exports
// to Qwen2AudioForConditionalGeneration without any approximation; the image path is LLaVA's with strategy "full".

import { ConfigReader, type Json } from '../../io/hf/config.ts';
import { parseLlmConfig, type LlmConfig } from '../llm/config.ts';
import { parseVitConfig, type VitConfig } from '../vision/vit/config.ts';
import { parseWhisperConfig, type WhisperConfig } from '../audio/whisper.ts';

export interface TesseraVisionConfig {
  readonly json: Json;
  readonly vit: VitConfig;
  /** HF `vision_feature_layer`: index into the tower's hidden states (negative counts from the end). */
  readonly featureLayer: number;
  /** The same as a non-negative index into [embeddings, layer 1, …, layer n]. */
  readonly featureIndex: number;
  /** `mlp2x_gelu` activation (HF `projector_hidden_act`). */
  readonly projectorAct: string;
  /** Image tokens per image: (image_size / patch_size)². */
  readonly tokensPerImage: number;
}

export interface TesseraAudioConfig {
  readonly json: Json;
  readonly whisper: WhisperConfig;
  /** Mel frames the encoder takes: 2·max_source_positions (the feature extractor's chunk). */
  readonly frames: number;
}

export interface TesseraConfig {
  readonly textJson: Json;
  readonly text: LlmConfig;
  readonly vision: TesseraVisionConfig | null;
  readonly audio: TesseraAudioConfig | null;
  readonly imageTokenId: number;
  readonly audioTokenId: number;
  /** `projector_gate`: a learned per-channel gain after each projector (gate.ts); absent in older checkpoints. */
  readonly projectorGate: boolean;
}

export function parseTesseraConfig(json: Json, where = 'config.json'): TesseraConfig {
  const c = new ConfigReader(json, where);
  const type = c.str('model_type');
  if (type !== 'tessera') throw new Error(`${where}: model_type is "${type}", expected "tessera"`);
  const textJson = c.child('text_config').obj;
  const text = parseLlmConfig(textJson, `${where}:text_config`);
  if (text.family !== 'qwen2') throw new Error(`${where}:text_config: tessera's LLM is Qwen2-style; model_type must be "qwen2"`);
  const checkId = (key: string): number => {
    const id = c.int(key);
    if (id < 0 || id >= text.vocabSize) throw new Error(`${where}: ${key} ${id} is outside the vocabulary [0, ${text.vocabSize})`);
    return id;
  };
  const imageTokenId = checkId('image_token_id'), audioTokenId = checkId('audio_token_id');
  let vision: TesseraVisionConfig | null = null;
  const v = c.optChild('vision_config');
  if (v) {
    const vit = parseVitConfig(v.obj, v.where);
    if (vit.kind !== 'siglip') throw new Error(`${v.where}: tessera's vision tower is SigLIP; model_type must be "siglip_vision_model"`);
    const featureLayer = c.int('vision_feature_layer', -1);
    const featureIndex = featureLayer < 0 ? vit.numLayers + 1 + featureLayer : featureLayer;
    if (featureIndex < 1 || featureIndex > vit.numLayers) {
      throw new Error(`${where}: vision_feature_layer ${featureLayer} must pick one of the ${vit.numLayers} encoder layers`);
    }
    vision = Object.freeze({
      json: v.obj, vit, featureLayer, featureIndex,
      projectorAct: c.str('projector_hidden_act', 'gelu'),
      tokensPerImage: (vit.imageSize / vit.patchSize) ** 2,
    });
  }
  let audio: TesseraAudioConfig | null = null;
  const a = c.optChild('audio_config');
  if (a) {
    const whisper = parseWhisperConfig(a.obj as Record<string, unknown>, a.where);
    if (whisper.decoder) throw new Error(`${a.where}: tessera's audio encoder has no decoder; drop the decoder_* fields`);
    audio = Object.freeze({ json: a.obj, whisper, frames: 2 * whisper.maxSourcePositions });
  }
  const projectorGate = c.bool('projector_gate', false);
  return Object.freeze({ textJson, text, vision, audio, imageTokenId, audioTokenId, projectorGate });
}

/** config.json content of a parsed config (the inverse of parseTesseraConfig). */
export function tesseraConfigJson(cfg: TesseraConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {
    model_type: 'tessera',
    architectures: ['TesseraForConditionalGeneration'],
    text_config: cfg.textJson,
    image_token_id: cfg.imageTokenId,
    audio_token_id: cfg.audioTokenId,
  };
  if (cfg.projectorGate) out.projector_gate = true;
  if (cfg.vision) {
    Object.assign(out, {
      vision_config: cfg.vision.json, vision_feature_layer: cfg.vision.featureLayer,
      vision_feature_select_strategy: 'full', projector_hidden_act: cfg.vision.projectorAct,
      image_seq_length: cfg.vision.tokensPerImage,
    });
  }
  if (cfg.audio) out.audio_config = cfg.audio.json;
  return out;
}

export interface TesseraSizes {
  vocabSize: number;
  imageTokenId: number;
  audioTokenId: number;
  hidden?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  /** Vision: image side in px, patch side, width, depth. Null: no vision tower. */
  vision?: { imageSize: number; patchSize: number; hidden: number; layers: number; heads: number } | null;
  /** Audio: mel bins, d_model, depth, chunk seconds (frames = 100·seconds). Null: no audio encoder. */
  audio?: { melBins: number; dModel: number; layers: number; heads: number; seconds: number } | null;
  maxPositions?: number;
  /** Gated projectors (gate.ts). Default true. */
  projectorGate?: boolean;
}

/** A config.json object for a small model of the given sizes (the defaults make a test-sized model). */
export function tesseraConfigFromSizes(s: TesseraSizes): Record<string, unknown> {
  const hidden = s.hidden ?? 64, heads = s.heads ?? 4;
  const json: Record<string, unknown> = {
    model_type: 'tessera',
    image_token_id: s.imageTokenId,
    audio_token_id: s.audioTokenId,
    projector_gate: s.projectorGate ?? true,
    text_config: {
      model_type: 'qwen2', vocab_size: s.vocabSize, hidden_size: hidden, intermediate_size: 2 * hidden,
      num_hidden_layers: s.layers ?? 2, num_attention_heads: heads, num_key_value_heads: s.kvHeads ?? Math.max(1, heads / 2),
      hidden_act: 'silu', rms_norm_eps: 1e-6, max_position_embeddings: s.maxPositions ?? 1024,
      rope_parameters: { rope_type: 'default', rope_theta: 10000 }, tie_word_embeddings: true,
      pad_token_id: null, bos_token_id: null, eos_token_id: null,
    },
  };
  const v = s.vision === undefined ? { imageSize: 32, patchSize: 8, hidden: 32, layers: 2, heads: 4 } : s.vision;
  if (v) {
    json.vision_config = {
      model_type: 'siglip_vision_model', hidden_size: v.hidden, intermediate_size: 2 * v.hidden, num_hidden_layers: v.layers,
      num_attention_heads: v.heads, num_channels: 3, image_size: v.imageSize, patch_size: v.patchSize,
      hidden_act: 'gelu_pytorch_tanh', layer_norm_eps: 1e-6,
    };
    json.vision_feature_layer = -1;
    json.projector_hidden_act = 'gelu';
  }
  const a = s.audio === undefined ? { melBins: 16, dModel: 32, layers: 2, heads: 4, seconds: 1 } : s.audio;
  if (a) {
    json.audio_config = {
      model_type: 'qwen2_audio_encoder', num_mel_bins: a.melBins, d_model: a.dModel, encoder_layers: a.layers,
      encoder_attention_heads: a.heads, encoder_ffn_dim: 2 * a.dModel, max_source_positions: 50 * a.seconds,
      activation_function: 'gelu', scale_embedding: false,
    };
  }
  return json;
}
