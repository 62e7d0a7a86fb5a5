// Qwen2-Audio (Chu et al. 2024; transformers `Qwen2AudioForConditionalGeneration`): a Whisper-style encoder whose
// self-attention hides key frames ≥ (L−1)//2+1 after conv2 (L = valid mel frames), an average pool by 2 before the
// final norm, `multi_modal_projector.linear`, and a Qwen2 decoder. Audio i keeps its first
// N_i = ((L_i−1)//2+1−2)//2+1 pooled rows, which fill the audio tokens of `input_ids` in row-major order.
// Loss (transformers' own, not ForCausalLMLoss): shift by one, drop positions where attention_mask[..., 1:] == 0,
// then the mean cross-entropy over labels != −100.
//
// Checkpoint keys: `audio_tower.*`, `multi_modal_projector.linear.*`, `language_model.lm_head.weight` and the text
// body under `language_model.model.model.*` (transformers 5.x save) or `language_model.model.*` (hub).
//
// Shapes: B batch, M mel bins, F frames, T encoder frames, P pooled frames, L tokens, Ca audio width, Ct text width.

import { openCheckpoint } from '../../io/checkpoint.ts';
import { Linear } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';
import { concat, crossEntropy, tensor, type Tensor } from '../../tensor/index.ts';
import { parseWhisperConfig, WhisperEncoder, type WhisperConfig } from '../audio/whisper.ts';
import { parseLlmConfig, type LlmConfig } from '../llm/config.ts';
import { CausalLM } from '../llm/decoder.ts';
import { registerModel, type LoadedModel, type NamedTensors } from '../registry.ts';
import { spliceFeatures } from './splice.ts';
import { loadCheckpointInto, requireInput, snakeCase } from './whisper.ts';

export interface Qwen2AudioConfig {
  readonly audio: WhisperConfig;
  readonly text: LlmConfig;
  readonly audioTokenId: number;
}

export function parseQwen2AudioConfig(cfg: Record<string, unknown>, where = 'qwen2_audio config'): Qwen2AudioConfig {
  const audio = cfg.audio_config, text = cfg.text_config, tok = cfg.audio_token_index ?? cfg.audio_token_id;
  if (!audio || typeof audio !== 'object') throw new Error(`${where}: "audio_config" must be an object`);
  if (!text || typeof text !== 'object') throw new Error(`${where}: "text_config" must be an object`);
  if (typeof tok !== 'number') throw new Error(`${where}: "audio_token_index" must be a number`);
  return Object.freeze({
    audio: parseWhisperConfig(audio as Record<string, unknown>, `${where} audio_config`),
    text: parseLlmConfig(text as Record<string, unknown>, `${where} text_config`),
    audioTokenId: tok,
  });
}

/** Valid frames after conv2 and pooled rows per audio, from valid mel frames L. */
export function audioLengths(melFrames: number): { encoderFrames: number; tokens: number } {
  const encoderFrames = Math.floor((melFrames - 1) / 2) + 1;
  return { encoderFrames, tokens: Math.floor((encoderFrames - 2) / 2) + 1 };
}

export class Qwen2AudioProjector extends Module {
  linear: Linear;
  constructor(audioDim: number, textDim: number) {
    super();
    this.linear = new Linear(audioDim, textDim);
  }
}

export interface Qwen2AudioOutput {
  audioTowerLastHiddenState: Tensor; // [B, P, Ca]
  audioFeaturesProjected: Tensor; // [B, P, Ct]
  logits: Tensor; // [B, L, V]
  loss: Tensor | null;
}

export class Qwen2Audio extends Module {
  audioTower: WhisperEncoder;
  multiModalProjector: Qwen2AudioProjector;
  languageModel: CausalLM;
  constructor(readonly config: Qwen2AudioConfig) {
    super();
    this.audioTower = new WhisperEncoder(config.audio);
    this.multiModalProjector = new Qwen2AudioProjector(config.audio.dModel, config.text.hiddenSize);
    this.languageModel = new CausalLM(config.text);
  }

  /** features [B, M, F], featureMask [B, F] → pooled tower output and its projection, plus tokens per audio. */
  encodeAudio(features: Tensor, featureMask: Tensor): { hidden: Tensor; projected: Tensor; tokens: number[] } {
    const [B, , F] = features.shape as [number, number, number];
    if (featureMask.ndim !== 2 || featureMask.shape[0] !== B || featureMask.shape[1] !== F) {
      throw new Error(`qwen2-audio: feature_attention_mask [${featureMask.shape.join(', ')}] should be [${B}, ${F}]`);
    }
    const fm = featureMask.toFloat64(), T = F / 2, keys = new Uint8Array(B * T), tokens: number[] = [];
    for (let b = 0; b < B; b++) {
      let L = 0;
      for (let f = 0; f < F; f++) L += fm[b * F + f]!;
      const n = audioLengths(L);
      keys.fill(1, b * T, b * T + Math.min(T, n.encoderFrames));
      tokens.push(n.tokens);
    }
    const mask = tensor(keys, { shape: [B, 1, 1, T], dtype: 'bool' });
    const hidden = this.audioTower.forward(features, { mask, poolStride: 2 }).lastHiddenState; // [B, P, Ca]
    return { hidden, projected: this.multiModalProjector.linear.forward(hidden), tokens }; // [B, P, Ct]
  }

  forward(ids: Tensor, features: Tensor, featureMask: Tensor, attentionMask: Tensor | null, labels: Tensor | null = null): Qwen2AudioOutput {
    const a = this.encodeAudio(features, featureMask);
    const rows = concat(a.tokens.map((n, b) => a.projected.slice(0, b, b + 1).slice(1, 0, n).squeeze(0)), 0); // [ΣN, Ct]
    const embeds = spliceFeatures(this.languageModel.model.embed(ids), ids, this.config.audioTokenId, rows, 'audio'); // [B, L, Ct]
    const logits = this.languageModel.forward({ inputsEmbeds: embeds, attentionMask }).logits; // [B, L, V]
    return { audioTowerLastHiddenState: a.hidden, audioFeaturesProjected: a.projected, logits, loss: labels ? qwen2AudioLoss(logits, labels, attentionMask) : null };
  }
}

/** Shifted cross-entropy over positions whose next-token attention mask is 1 and whose label is not −100. */
export function qwen2AudioLoss(logits: Tensor, labels: Tensor, attentionMask: Tensor | null): Tensor {
  const [B, L] = logits.shape as [number, number, number];
  const lab = labels.toFloat64(), m = attentionMask ? attentionMask.toFloat64() : null, target = new Float64Array(B * (L - 1));
  for (let b = 0; b < B; b++) for (let t = 1; t < L; t++) {
    target[b * (L - 1) + t - 1] = m && m[b * L + t] === 0 ? -100 : lab[b * L + t]!;
  }
  return crossEntropy(logits.slice(1, 0, L - 1), tensor(target, { shape: [B, L - 1], dtype: 'int64' }), { ignoreIndex: -100 });
}

export function loadQwen2Audio(dir: string, raw: Record<string, unknown>): LoadedModel {
  const model = new Qwen2Audio(parseQwen2AudioConfig(raw, `${dir}/config.json`)).eval();
  const probe = openCheckpoint(dir);
  const textBody = probe.has('language_model.model.model.embed_tokens.weight') ? 'language_model.model.model.' : 'language_model.model.';
  probe.close();
  const checkpointKey = (name: string): string => {
    if (name.startsWith('languageModel.model.')) return textBody + name.slice('languageModel.model.'.length);
    if (name.startsWith('languageModel.')) return `language_model.${name.slice('languageModel.'.length)}`;
    return snakeCase(name);
  };
  loadCheckpointInto(model, dir, checkpointKey);
  const forward = (inputs: NamedTensors): NamedTensors => {
    const o = model.forward(requireInput(inputs, 'input_ids', 'qwen2-audio'), requireInput(inputs, 'input_features', 'qwen2-audio'),
      requireInput(inputs, 'feature_attention_mask', 'qwen2-audio'), inputs.get('attention_mask') ?? null, inputs.get('labels') ?? null);
    const out: NamedTensors = new Map([
      ['audio_tower_last_hidden_state', o.audioTowerLastHiddenState],
      ['audio_features_projected', o.audioFeaturesProjected],
      ['logits', o.logits],
    ]);
    if (o.loss) out.set('loss', o.loss);
    return out;
  };
  return { modelType: 'qwen2_audio', dir, config: raw, module: model, forward, checkpointKey };
}

registerModel(['qwen2_audio'], loadQwen2Audio);
