// Stage 0 for the encoders: supervised attribute prediction from the generator's scene records (meta.jsonl
// beside data.jsonl). A linear head on the mean-pooled features of the vision tower's feature layer predicts
// which (color, shape) pairs an image holds (18 labels); one on the pooled audio-encoder output predicts the
// number of tones (1–5, one-hot) and which digit words are spoken (10 labels). Every label is a sigmoid
// binary cross-entropy, the multi-label objective of e.g. ML-Decoder / ASL baselines. The head is a training
// aid: it lives beside the model (field `attributeHead`) and is not part of the saved tessera model.
//
// Shapes: I images, A audios, N patches, T encoder frames, C features, K labels.

import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { COLORS, DIGIT_WORDS, SHAPES } from '../data/synthetic/vocab.ts';
import { Linear } from '../nn/layers.ts';
import { Module } from '../nn/module.ts';
import { audioLengths } from '../models/mllm/qwen2-audio.ts';
import type { TesseraModel } from '../models/tessera/model.ts';
import type { TesseraProcessor } from '../models/tessera/processor.ts';
import { parseMediaRecord } from '../models/tessera/record.ts';
import { concat, noGrad, Rng, slice, tensor, type Tensor } from '../tensor/index.ts';
import { logSigmoid } from './dpo.ts';
import type { Objective } from './objective.ts';

export type Modality = 'image' | 'audio';

export const imageLabels: readonly string[] = COLORS.flatMap((c) => SHAPES.map((s) => `${c} ${s}`));
export const audioLabels: readonly string[] = [1, 2, 3, 4, 5].map((n) => `${n} tones`).concat(DIGIT_WORDS.map((w) => `says ${w}`));

export interface AttributeSample {
  /** [3, H, W] pixels or [M, F] mel features. */
  media: Float32Array;
  /** Valid mel frames (audio only). */
  length: number;
  target: Float32Array;
}

interface Scene { kind?: string; shapes?: { color: string; shape: string }[]; tones?: unknown[]; words?: string[] }

/** The attribute vector of a scene, or null when the scene has no labels of this modality (e.g. a chart). */
export function sceneTarget(modality: Modality, scene: Scene): Float32Array | null {
  if (modality === 'image') {
    if (scene.kind !== 'shapes' || !Array.isArray(scene.shapes)) return null;
    const t = new Float32Array(imageLabels.length);
    for (const s of scene.shapes) {
      const i = imageLabels.indexOf(`${s.color} ${s.shape}`);
      if (i >= 0) t[i] = 1;
    }
    return t;
  }
  const t = new Float32Array(audioLabels.length);
  if (scene.kind === 'tones' && Array.isArray(scene.tones) && scene.tones.length >= 1 && scene.tones.length <= 5) t[scene.tones.length - 1] = 1;
  else if (scene.kind === 'speech' && Array.isArray(scene.words)) for (const w of scene.words) t[5 + DIGIT_WORDS.indexOf(w as (typeof DIGIT_WORDS)[number])] = 1;
  else return null;
  return t;
}

/** Reads meta.jsonl beside a data file: record id → scene. */
export function readScenes(dataPath: string): Map<string, Scene> {
  const path = join(dirname(resolve(dataPath)), 'meta.jsonl');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new Error(`${dataPath}: encoder pretraining needs the generator's meta.jsonl beside it (${path} is missing)`);
  }
  const out = new Map<string, Scene>();
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      const m = JSON.parse(line) as { id: string; scene: Scene };
      out.set(String(m.id), m.scene);
    } catch {
      throw new Error(`${path}:${i + 1}: not a JSON meta record`);
    }
  });
  return out;
}

/** An encoder for loadJsonl: record → its first image/audio and the attribute target of its scene. */
export function attributeEncoder(modality: Modality, processor: TesseraProcessor, scenes: Map<string, Scene>) {
  return async (raw: unknown, baseDir: string): Promise<AttributeSample> => {
    const r = parseMediaRecord(raw);
    const scene = scenes.get(r.id);
    if (!scene) throw new Error(`record ${r.id}: no scene in meta.jsonl`);
    const target = sceneTarget(modality, scene);
    if (!target) throw new Error(`record ${r.id}: its ${scene.kind ?? 'unknown'} scene has no ${modality} attributes to predict`);
    const paths = modality === 'image' ? r.images : r.audios;
    if (paths.length !== 1) throw new Error(`record ${r.id}: needs exactly one ${modality}, has ${paths.length}`);
    if (modality === 'image') return { media: await processor.imagePixels(resolve(baseDir, paths[0]!), `record ${r.id}: image ${paths[0]}`), length: 0, target };
    const a = await processor.audioFeatures(resolve(baseDir, paths[0]!), `record ${r.id}: audio ${paths[0]}`);
    return { media: a.features, length: a.length, target };
  };
}

/** The parts trained in encoder pretraining, under the tessera model's own parameter names, plus the head. */
export class AttributeModel extends Module {
  vision: TesseraModel['vision'];
  audio: TesseraModel['audio'];
  attributeHead: Linear;
  constructor(readonly tessera: TesseraModel, readonly modality: Modality, seed: number) {
    super();
    this.vision = modality === 'image' ? tessera.vision : null;
    this.audio = modality === 'audio' ? tessera.audio : null;
    if (modality === 'image' && !this.vision) throw new Error('pretrain-vision: this tessera model has no vision tower');
    if (modality === 'audio' && !this.audio) throw new Error('pretrain-audio: this tessera model has no audio encoder');
    const C = modality === 'image' ? tessera.config.vision!.vit.hiddenSize : tessera.config.audio!.whisper.dModel;
    const K = modality === 'image' ? imageLabels.length : audioLabels.length;
    this.attributeHead = new Linear(C, K, { rng: new Rng(seed) });
    // the wrapper holds the towers, not the tessera model, so parameter names stay `vision.…` / `audio.…`
    Object.defineProperty(this, 'tessera', { enumerable: false });
  }

  /** Pooled features [B, C] → label logits [B, K]. */
  logits(media: Tensor, lengths: readonly number[]): Tensor {
    if (this.modality === 'image') {
      const v = this.tessera.config.vision!;
      const states = this.vision!.forward(media, v.featureIndex).hiddenStates;
      return this.attributeHead.forward(states[v.featureIndex]!.mean(1)); // [I, N, C] → [I, C] → [I, K]
    }
    const [A, , F] = media.shape as [number, number, number];
    const T = F / 2, keys = new Uint8Array(A * T);
    const kept = lengths.map((L, i) => {
      const n = audioLengths(L);
      keys.fill(1, i * T, i * T + Math.min(T, n.encoderFrames));
      return n.tokens;
    });
    const mask = tensor(keys, { shape: [A, 1, 1, T], dtype: 'bool' });
    const pooled = this.audio!.forward(media, { mask, poolStride: 2 }).lastHiddenState; // [A, T/2, C]
    const means = kept.map((n, i) => slice(slice(pooled, 0, i, i + 1), 1, 0, n).mean(1)); // each [1, C]
    return this.attributeHead.forward(concat(means, 0)); // [A, K]
  }
}

export interface AttributeBatch {
  media: Tensor;
  lengths: number[];
  target: Tensor; // [B, K]
}

/** Summed binary cross-entropy over labels, averaged per sample; logs label accuracy. */
export function attributeObjective(model: AttributeModel): Objective<AttributeSample, AttributeBatch> {
  return {
    model,
    collate: (s) => {
      const n = s[0]!.media.length, K = s[0]!.target.length;
      const media = new Float32Array(s.length * n), target = new Float32Array(s.length * K);
      s.forEach((x, i) => { media.set(x.media, i * n); target.set(x.target, i * K); });
      const shape = model.modality === 'image' ? imageShape(n) : audioShape(model, n);
      return { media: tensor(media, { shape: [s.length, ...shape] }), lengths: s.map((x) => x.length), target: tensor(target, { shape: [s.length, K] }) };
    },
    units: (b) => b.target.shape[0]!,
    tokens: (b) => b.media.size,
    lossSum: (b) => {
      const z = model.logits(b.media, b.lengths); // [B, K]
      const y = b.target;
      const loss = logSigmoid(z).mul(y).add(logSigmoid(z.neg()).mul(y.neg().add(1))).sum().neg();
      const correct = noGrad(() => {
        const zs = z.toList(), ys = y.toList();
        return zs.reduce((n, v, i) => n + ((v > 0 ? 1 : 0) === ys[i] ? 1 : 0), 0) / (y.shape[1] ?? 1);
      });
      return { loss, sums: { label_accuracy: correct } };
    },
  };
}

/** [3, S, S] from the element count of one square image. */
function imageShape(n: number): number[] {
  const side = Math.round(Math.sqrt(n / 3));
  return [3, side, side];
}

function audioShape(m: AttributeModel, n: number): number[] {
  const M = m.tessera.config.audio!.whisper.numMelBins;
  return [M, n / M];
}
