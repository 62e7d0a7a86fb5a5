// Vision transformer config for CLIP and SigLIP towers (`CLIPVisionConfig`, `SiglipVisionConfig`), parsed from
// the `vision_config` object of a Hugging Face config.json.

import { ConfigReader, type Json } from '../../../io/hf/config.ts';

export type VitKind = 'clip' | 'siglip';

export interface VitConfig {
  readonly kind: VitKind;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numChannels: number;
  readonly imageSize: number;
  readonly patchSize: number;
  readonly layerNormEps: number;
  readonly hiddenAct: string;
}

const kinds: Readonly<Record<string, VitKind>> = {
  clip_vision_model: 'clip', clip: 'clip', siglip_vision_model: 'siglip', siglip: 'siglip',
};

export function parseVitConfig(json: Json, where = 'config.json:vision_config'): VitConfig {
  const c = new ConfigReader(json, where);
  const type = c.str('model_type', 'clip_vision_model');
  const kind = kinds[type];
  if (!kind) throw new Error(`${where}: vision model_type "${type}" is not supported (known: ${Object.keys(kinds).join(', ')})`);
  const hiddenSize = c.int('hidden_size'), numHeads = c.int('num_attention_heads');
  if (hiddenSize % numHeads) throw new Error(`${where}: hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`);
  const imageSize = c.int('image_size'), patchSize = c.int('patch_size');
  if (imageSize % patchSize) throw new Error(`${where}: image_size ${imageSize} is not a multiple of patch_size ${patchSize}`);
  return Object.freeze({
    kind, hiddenSize, numHeads, imageSize, patchSize,
    intermediateSize: c.int('intermediate_size'),
    numLayers: c.int('num_hidden_layers'),
    numChannels: c.int('num_channels', 3),
    layerNormEps: c.num('layer_norm_eps', kind === 'clip' ? 1e-5 : 1e-6),
    hiddenAct: c.str('hidden_act', kind === 'clip' ? 'quick_gelu' : 'gelu_pytorch_tanh'),
  });
}

/** Patches per image side. */
export const gridSize = (c: VitConfig): number => c.imageSize / c.patchSize;

/** pixels must be [B, channels, image_size, image_size] floats (position embeddings are not interpolated). */
export function checkPixels(pixels: { readonly shape: readonly number[]; readonly dtype: string }, cfg: VitConfig): void {
  const s = pixels.shape;
  if (s.length !== 4 || s[1] !== cfg.numChannels || s[2] !== cfg.imageSize || s[3] !== cfg.imageSize) {
    throw new Error(`vision tower: pixel_values has shape [${s.join(', ')}], expected [B, ${cfg.numChannels}, ${cfg.imageSize}, ${cfg.imageSize}]`);
  }
  if (pixels.dtype !== 'float32' && pixels.dtype !== 'float64') throw new Error(`vision tower: pixel_values must be float, got ${pixels.dtype}`);
}
