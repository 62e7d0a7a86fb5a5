// `model_type: "whisper"` as a LoadedModel: transformers' WhisperModel (encoder + decoder hidden states) and
// WhisperForConditionalGeneration (adds the tied `proj_out` head and the token loss). Checkpoints hold
// `encoder.*`/`decoder.*` (WhisperModel) or `model.encoder.*`/`model.decoder.*` (+ `proj_out.weight`, tied, so
// usually absent) for the generation class; both load.
//
// Inputs: `input_features` [B, M, 2·max_source_positions]; optional `decoder_input_ids` [B, L]; optional `labels`
// [B, L] (decoder targets, −100 ignored; when `decoder_input_ids` is absent it is `labels` shifted right after
// `decoder_start_token_id`, as transformers does). Outputs: `encoder_last_hidden_state`, `encoder_hidden_states`
// [layers+1, B, T, C], and with a decoder input `decoder_last_hidden_state`, `logits` and `loss`.

import { openCheckpoint } from '../../io/checkpoint.ts';
import type { TensorData } from '../../io/safetensors.ts';
import type { Module } from '../../nn/module.ts';
import { crossEntropy, stack, tensor, type Tensor } from '../../tensor/index.ts';
import { registerModel, type LoadedModel, type NamedTensors } from '../registry.ts';
import { parseWhisperConfig, WhisperModel } from '../audio/whisper.ts';

/** camelCase runtime name → the snake_case name transformers uses (`selfAttnLayerNorm` → `self_attn_layer_norm`). */
export function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/**
 * Loads every parameter of `module` from the checkpoint in `dir`, reading key `keyOf(runtimeName)`. Missing,
 * unexpected (beyond `ignore`) and mis-shaped keys are reported together, naming the folder and the keys.
 */
export function loadCheckpointInto(module: Module, dir: string, keyOf: (name: string) => string, ignore: (key: string) => boolean = () => false): void {
  const ckpt = openCheckpoint(dir);
  try {
    const source = new Map<string, TensorData>();
    const used = new Set<string>();
    const missing: string[] = [];
    for (const [name] of module.namedParameters()) {
      const key = keyOf(name);
      if (ckpt.has(key)) { source.set(name, ckpt.read(key)); used.add(key); } else missing.push(key);
    }
    const unexpected = ckpt.keys().filter((k) => !used.has(k) && !ignore(k));
    const problems: string[] = [];
    if (missing.length) problems.push(`missing ${missing.length} key(s): ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}`);
    if (unexpected.length) problems.push(`unexpected ${unexpected.length} key(s): ${unexpected.slice(0, 10).join(', ')}${unexpected.length > 10 ? ', …' : ''}`);
    if (problems.length) throw new Error(`checkpoint ${dir}: ${problems.join('; ')}`);
    module.loadStateDict(source, { source: dir });
  } finally {
    ckpt.close();
  }
}

/** Reads a required tensor input, with an error naming it. */
export function requireInput(inputs: NamedTensors, name: string, model: string): Tensor {
  const t = inputs.get(name);
  if (!t) throw new Error(`${model}: missing input "${name}" (got ${[...inputs.keys()].join(', ') || 'none'})`);
  return t;
}

function shiftRight(labels: Tensor, start: number, pad: number): Tensor {
  const [B, L] = labels.shape as [number, number];
  const v = labels.toFloat64(), out = new Float64Array(B * L);
  for (let b = 0; b < B; b++) {
    out[b * L] = start;
    for (let i = 1; i < L; i++) { const x = v[b * L + i - 1]!; out[b * L + i] = x === -100 ? pad : x; }
  }
  return tensor(out, { shape: [B, L], dtype: 'int64' });
}

export function loadWhisper(dir: string, raw: Record<string, unknown>): LoadedModel {
  const where = `${dir}/config.json`;
  const config = parseWhisperConfig(raw, where);
  const model = new WhisperModel(config).eval();
  const arch = Array.isArray(raw.architectures) ? raw.architectures : [];
  const withHead = arch.includes('WhisperForConditionalGeneration');
  const probe = openCheckpoint(dir);
  const prefixed = probe.has('model.encoder.conv1.weight');
  probe.close();
  const checkpointKey = (name: string): string => (prefixed ? 'model.' : '') + snakeCase(name);
  loadCheckpointInto(model, dir, checkpointKey, (k) => k === 'proj_out.weight');
  const start = typeof raw.decoder_start_token_id === 'number' ? raw.decoder_start_token_id : null;
  const pad = typeof raw.pad_token_id === 'number' ? raw.pad_token_id : 0;

  const forward = (inputs: NamedTensors): NamedTensors => {
    const enc = model.encoder.forward(requireInput(inputs, 'input_features', 'whisper'));
    const out: NamedTensors = new Map([
      ['encoder_last_hidden_state', enc.lastHiddenState],
      ['encoder_hidden_states', stack(enc.hiddenStates, 0)],
    ]);
    const labels = inputs.get('labels');
    let ids = inputs.get('decoder_input_ids');
    if (!ids && labels) {
      if (start === null) throw new Error(`${where}: labels given without decoder_input_ids, but there is no "decoder_start_token_id"`);
      ids = shiftRight(labels, start, pad);
    }
    if (!ids) return out;
    if (!model.decoder) throw new Error(`${where}: decoder_input_ids given, but the config has no decoder`);
    const hidden = model.decoder.forward(ids, enc.lastHiddenState); // [B, L, C]
    out.set('decoder_last_hidden_state', hidden);
    if (withHead || labels) {
      const logits = model.decoder.logits(hidden); // [B, L, V]
      out.set('logits', logits);
      if (labels) out.set('loss', crossEntropy(logits, labels, { ignoreIndex: -100 }));
    }
    return out;
  };
  return { modelType: 'whisper', dir, config: raw, module: model, forward, checkpointKey };
}

registerModel(['whisper'], loadWhisper);
