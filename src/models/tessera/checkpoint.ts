// tessera's checkpoint folder: config.json (model_type "tessera", nested part configs), model.safetensors under
// the runtime parameter names (`llm.model.layers.0.self_attn.q_proj.weight`, `vision.encoder…`, `audio.layers…`,
// `visionProjector.linear_1.weight`, `audioProjector.linear.weight`), written atomically, and the processor files
// (tokenizer.json, tokenizer_config.json, chat_template.jinja, preprocessor_config.json). `initTessera` builds a
// randomly initialised model from a config and a seed, the same bytes every time (HF-style init: normal(0, std)
// weights, unit norms, zero biases, Whisper's sinusoid table kept). Registered as model_type "tessera".

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCheckpoint } from '../../io/checkpoint.ts';
import type { Json } from '../../io/hf/config.ts';
import { writeSafetensors, type TensorData } from '../../io/safetensors.ts';
import { Rng, noGrad, tensor, type Tensor } from '../../tensor/index.ts';
import { readConfig, registerModel, type LoadedModel, type NamedTensors } from '../registry.ts';
import { parseTesseraConfig, tesseraConfigJson } from './config.ts';
import { TesseraModel, type TesseraBatch } from './model.ts';
import { TesseraProcessor } from './processor.ts';
import { gridPositions, sinCos2d } from '../projector/resampler.ts';

/** Writes model + processor into `dir` (created if missing); the weights file is replaced atomically. */
export function saveTessera(dir: string, model: TesseraModel, processor: TesseraProcessor): void {
  processor.checkModel(model.config);
  mkdirSync(dir, { recursive: true });
  const tensors: Record<string, TensorData> = {};
  for (const [name, p] of model.namedParameters()) tensors[name] = { dtype: 'float32', shape: [...p.shape], data: p.toFloat32Array() };
  writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt', producer: 'tessera' });
  const json = (name: string, v: unknown): void => writeFileSync(join(dir, name), JSON.stringify(v, null, 2) + '\n');
  json('config.json', tesseraConfigJson(model.config));
  const f = processor.files;
  json('tokenizer.json', f.tokenizerJson);
  json('tokenizer_config.json', { ...f.tokenizerConfig, chat_template: f.chatTemplate });
  writeFileSync(join(dir, 'chat_template.jinja'), f.chatTemplate);
  json('preprocessor_config.json', f.preprocessor);
}

/** Reads a folder written by saveTessera; a missing, unexpected or mis-shaped tensor is an error naming it. */
export function loadTessera(dir: string): { model: TesseraModel; processor: TesseraProcessor } {
  const model = new TesseraModel(parseTesseraConfig(readConfig(dir), join(dir, 'config.json')));
  const ckpt = openCheckpoint(dir);
  try {
    const source = new Map<string, TensorData>();
    for (const k of ckpt.keys()) source.set(k, { dtype: 'float32', shape: ckpt.info(k).shape, data: ckpt.readFloat32(k) });
    model.loadStateDict(source, { source: join(dir, 'model.safetensors') });
  } finally {
    ckpt.close();
  }
  const processor = TesseraProcessor.fromDir(dir);
  processor.checkModel(model.config);
  return { model: model.eval(), processor };
}

export interface InitOptions {
  /** Std of the normal init of weight matrices and embeddings (HF initializer_range). Default 0.02. */
  std?: number;
  /** Adds normal(0, jitter) to norms and biases, so tests see bugs in their handling (as the HF fixtures do). Default 0. */
  jitter?: number;
}

/** A randomly initialised model; the same config and seed give identical weights. */
export function initTessera(config: Json, seed: number, opts: InitOptions = {}): TesseraModel {
  const model = new TesseraModel(parseTesseraConfig(config, 'tessera config'));
  const rng = new Rng(seed), std = opts.std ?? 0.02, jitter = opts.jitter ?? 0;
  noGrad(() => {
    for (const [name, p] of model.namedParameters()) {
      if (name === 'audio.embedPositions.weight') continue;
      const data = p.storage as Float32Array;
      // projector gates start at the text embeddings' scale, so media rows enter the LLM commensurate with text (gate.ts)
      if (/Projector\.gate$/.test(name)) { data.fill(std); continue; }
      const isNorm = /norm|layernorm/i.test(name) && name.endsWith('.weight');
      const base = isNorm ? 1 : 0;
      // The media path (tower + projector) is five or more matrices deep before the LLM sees it; at a flat std of
      // 0.02 each one shrinks the signal ~5-10×, so image/audio rows reach the LLM ~100× below the text embeddings
      // and a from-scratch model learns to ignore them (issue 5). LeCun normal, 1/√fan_in (HF SigLIP's
      // lecun_normal patch embedding, torch's Linear default scale), keeps the signal's size through the path.
      const media = /^(vision|audio|visionProjector|audioProjector)\./.test(name) && p.ndim >= 2;
      const spread = media ? Math.max(std, 1 / Math.sqrt(fanIn(p.shape))) : p.ndim >= 2 || name.endsWith('probe') ? std : jitter;
      for (let i = 0; i < data.length; i++) data[i] = base + spread * rng.normal();
    }
    // The ViT's learned positions start as a 2D sin-cos grid at the patch embeddings' scale (RMS 1, the grid MAE
    // keeps fixed) instead of random rows ~20× below the patch content, so where a patch is enters the tower as
    // strongly as what it shows (for ground, vqa-position, caption order). Measured in issue 5: no change to the
    // per-patch shape accuracy of the vision pretraining (29% vs 33% after 300 steps, within noise).
    const pos = model.vision?.embeddings.position_embedding.weight;
    const vit = model.config.vision?.vit;
    if (pos && vit) {
      const g = vit.imageSize / vit.patchSize;
      const grid = sinCos2d(vit.hiddenSize, gridPositions(g, g)).toFloat32Array();
      const data = pos.storage as Float32Array;
      for (let i = 0; i < data.length; i++) data[i] = Math.SQRT2 * grid[i]!;
    }
  });
  return model;
}

/** Inputs per output unit: every dimension but the first ([out, in], [out, in, k], [out, in, kh, kw]). */
function fanIn(shape: readonly number[]): number {
  return shape.slice(1).reduce((n, d) => n * d, 1);
}

function namedBatch(model: TesseraModel, inputs: NamedTensors, where: string): TesseraBatch {
  const inputIds = inputs.get('input_ids');
  if (!inputIds) throw new Error(`${where}: inputs need "input_ids"`);
  const [B, T] = inputIds.shape as [number, number];
  const features = inputs.get('input_features') ?? null;
  const featureMask = inputs.get('feature_attention_mask') ?? null;
  let audioLengths: number[] = [];
  if (features) {
    const [A, , F] = features.shape as [number, number, number];
    if (featureMask && (featureMask.shape[0] !== A || featureMask.shape[1] !== F)) {
      throw new Error(`${where}: feature_attention_mask [${featureMask.shape.join(', ')}] should be [${A}, ${F}]`);
    }
    const m = featureMask?.toList();
    audioLengths = Array.from({ length: A }, (_, a) => (m ? m.slice(a * F, a * F + F).reduce((s, v) => s + v, 0) : F));
  }
  const toInt = (t: Tensor | null): Tensor | null => (t ? t.to('int32') : null);
  return {
    inputIds: inputIds.to('int32'),
    attentionMask: toInt(inputs.get('attention_mask') ?? null) ?? tensor(new Int32Array(B * T).fill(1), { shape: [B, T], dtype: 'int32' }),
    labels: toInt(inputs.get('labels') ?? null),
    pixelValues: inputs.get('pixel_values')?.to('float32') ?? null,
    audioFeatures: features?.to('float32') ?? null,
    audioLengths,
  };
}

/** The registry's loader: named inputs `input_ids`, `attention_mask`, `pixel_values`, `input_features`, `feature_attention_mask`, `labels`. */
export function loadTesseraModel(dir: string): LoadedModel & { module: TesseraModel; processor: TesseraProcessor } {
  const { model, processor } = loadTessera(dir);
  return {
    modelType: 'tessera', dir, config: readConfig(dir), module: model, processor,
    forward(inputs: NamedTensors): NamedTensors {
      const out = model.forward(namedBatch(model, inputs, 'tessera forward'));
      const result: NamedTensors = new Map([['logits', out.logits]]);
      if (out.loss) result.set('loss', out.loss);
      return result;
    },
    checkpointKey: (name) => name,
    generate(inputs: NamedTensors, maxNewTokens: number): number[][] {
      return model.generate(namedBatch(model, inputs, 'tessera generate'), maxNewTokens, processor.eosTokenId).tokens;
    },
  };
}

registerModel(['tessera'], (dir) => loadTesseraModel(dir));
