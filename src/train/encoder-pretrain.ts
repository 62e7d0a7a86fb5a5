// Stage 0 for the encoders: supervised attribute prediction from the generator's scene records (meta.jsonl
// beside data.jsonl). A linear head on the mean-pooled features of the vision tower's feature layer predicts
// which (color, shape) pairs an image holds (18 labels). Mean pooling dilutes a 14 px object over 64 patches
// and that head alone taught the tower nothing (issue 5), so a second linear head predicts, for every patch,
// the color and shape of the object covering it (9 labels; none for background) from the scene's boxes —
// dense per-patch targets, as in segmentation pretraining. One on the pooled audio-encoder output predicts the
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

/** Per-patch labels: one per color, then one per shape. */
export const patchLabels: readonly string[] = [...COLORS, ...SHAPES];

export interface AttributeSample {
  /** [3, H, W] pixels or [M, F] mel features. */
  media: Float32Array;
  /** Valid mel frames (audio only). */
  length: number;
  target: Float32Array;
  /** [N, 9] per-patch color/shape labels (images of shape scenes only). */
  patches: Float32Array | null;
}

interface SceneShape { color: string; shape: string; cx?: number; cy?: number; box?: number[] }
interface Scene { kind?: string; shapes?: SceneShape[]; tones?: unknown[]; words?: string[]; width?: number }

/**
 * [g·g, 9] labels of a g×g patch grid: a patch takes the color and shape of the object whose box holds its
 * centre, and the patch holding an object's centre always does (objects smaller than a patch). Box coordinates
 * are in the generator's 128 px frame (or the scene's `width`).
 */
export function patchTargets(scene: Scene, grid: number): Float32Array | null {
  if (scene.kind !== 'shapes' || !Array.isArray(scene.shapes)) return null;
  const K = patchLabels.length, side = scene.width ?? 128, step = side / grid;
  const t = new Float32Array(grid * grid * K);
  const mark = (r: number, c: number, s: SceneShape): void => {
    if (r < 0 || c < 0 || r >= grid || c >= grid) return;
    const row = t.subarray((r * grid + c) * K, (r * grid + c + 1) * K);
    row.fill(0);
    row[COLORS.indexOf(s.color as (typeof COLORS)[number])] = 1;
    row[COLORS.length + SHAPES.indexOf(s.shape as (typeof SHAPES)[number])] = 1;
  };
  for (const s of scene.shapes) {
    const [x1, y1, x2, y2] = s.box ?? [];
    if (x1 === undefined || y1 === undefined || x2 === undefined || y2 === undefined) continue;
    for (let r = 0; r < grid; r++) {
      for (let c = 0; c < grid; c++) {
        const x = (c + 0.5) * step, y = (r + 0.5) * step;
        if (x >= x1 && x <= x2 && y >= y1 && y <= y2) mark(r, c, s);
      }
    }
    mark(Math.floor((s.cy ?? (y1 + y2) / 2) / step), Math.floor((s.cx ?? (x1 + x2) / 2) / step), s);
  }
  return t;
}

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

/**
 * An encoder for loadJsonl: record → its first image/audio and the attribute target of its scene; with
 * `patchGrid` g > 0, images also get the per-patch targets of a g×g grid (the tower's image/patch size).
 */
export function attributeEncoder(modality: Modality, processor: TesseraProcessor, scenes: Map<string, Scene>, patchGrid = 0) {
  return async (raw: unknown, baseDir: string): Promise<AttributeSample> => {
    const r = parseMediaRecord(raw);
    const scene = scenes.get(r.id);
    if (!scene) throw new Error(`record ${r.id}: no scene in meta.jsonl`);
    const target = sceneTarget(modality, scene);
    if (!target) throw new Error(`record ${r.id}: its ${scene.kind ?? 'unknown'} scene has no ${modality} attributes to predict`);
    const paths = modality === 'image' ? r.images : r.audios;
    if (paths.length !== 1) throw new Error(`record ${r.id}: needs exactly one ${modality}, has ${paths.length}`);
    if (modality === 'image') {
      const media = await processor.imagePixels(resolve(baseDir, paths[0]!), `record ${r.id}: image ${paths[0]}`);
      return { media, length: 0, target, patches: patchGrid > 0 ? patchTargets(scene, patchGrid) : null };
    }
    const a = await processor.audioFeatures(resolve(baseDir, paths[0]!), `record ${r.id}: audio ${paths[0]}`);
    return { media: a.features, length: a.length, target, patches: null };
  };
}

/** The training-aid heads: on pooled features, and (images) on every patch. */
class AttributeHeads extends Module {
  pooled: Linear;
  patch: Linear | null;
  constructor(C: number, K: number, patchK: number, rng: Rng) {
    super();
    this.pooled = new Linear(C, K, { rng });
    this.patch = patchK > 0 ? new Linear(C, patchK, { rng }) : null;
  }
}

/** The parts trained in encoder pretraining, under the tessera model's own parameter names, plus the heads. */
export class AttributeModel extends Module {
  vision: TesseraModel['vision'];
  audio: TesseraModel['audio'];
  attributeHead: AttributeHeads;
  constructor(readonly tessera: TesseraModel, readonly modality: Modality, seed: number) {
    super();
    this.vision = modality === 'image' ? tessera.vision : null;
    this.audio = modality === 'audio' ? tessera.audio : null;
    if (modality === 'image' && !this.vision) throw new Error('pretrain-vision: this tessera model has no vision tower');
    if (modality === 'audio' && !this.audio) throw new Error('pretrain-audio: this tessera model has no audio encoder');
    const C = modality === 'image' ? tessera.config.vision!.vit.hiddenSize : tessera.config.audio!.whisper.dModel;
    const K = modality === 'image' ? imageLabels.length : audioLabels.length;
    this.attributeHead = new AttributeHeads(C, K, modality === 'image' ? patchLabels.length : 0, new Rng(seed));
    // the wrapper holds the towers, not the tessera model, so parameter names stay `vision.…` / `audio.…`
    Object.defineProperty(this, 'tessera', { enumerable: false });
  }

  /** Label logits [B, K] from pooled features, and for images per-patch logits [B, N, 9]. */
  logits(media: Tensor, lengths: readonly number[]): Tensor {
    return this.heads(media, lengths).pooled;
  }

  heads(media: Tensor, lengths: readonly number[]): { pooled: Tensor; patch: Tensor | null } {
    if (this.modality === 'image') {
      const v = this.tessera.config.vision!;
      const x = this.vision!.forward(media, v.featureIndex).hiddenStates[v.featureIndex]!; // [I, N, C]
      return { pooled: this.attributeHead.pooled.forward(x.mean(1)), patch: this.attributeHead.patch!.forward(x) }; // [I, K], [I, N, 9]
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
    return { pooled: this.attributeHead.pooled.forward(concat(means, 0)), patch: null }; // [A, K]
  }
}

export interface AttributeBatch {
  media: Tensor;
  lengths: number[];
  target: Tensor; // [B, K]
  patches: Tensor | null; // [B, N, 9]
}

/** Summed sigmoid binary cross-entropy of logits z against 0/1 targets y. */
function bceSum(z: Tensor, y: Tensor): Tensor {
  return logSigmoid(z).mul(y).add(logSigmoid(z.neg()).mul(y.neg().add(1))).sum().neg();
}

/** Object patches whose argmax color and argmax shape are both right (all-zeros and background score 0). */
function patchHits(z: Float32Array, y: Float32Array): { hits: number; colors: number; shapes: number; objects: number } {
  const K = patchLabels.length, nc = COLORS.length;
  let hits = 0, colors = 0, shapes = 0, objects = 0;
  for (let p = 0; p < y.length / K; p++) {
    const row = y.subarray(p * K, p * K + K);
    if (!row.some((v) => v === 1)) continue;
    objects++;
    const zr = z.subarray(p * K, p * K + K);
    const arg = (a: number, b: number): number => { let best = a; for (let i = a; i < b; i++) if (zr[i]! > zr[best]!) best = i; return best; };
    const color = row[arg(0, nc)] === 1, shape = row[arg(nc, K)] === 1;
    if (color) colors++;
    if (shape) shapes++;
    if (color && shape) hits++;
  }
  return { hits, colors, shapes, objects };
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
      let patches: Tensor | null = null;
      const P = s[0]!.patches?.length ?? 0;
      if (P > 0 && s.every((x) => x.patches?.length === P)) {
        const flat = new Float32Array(s.length * P);
        s.forEach((x, i) => flat.set(x.patches!, i * P));
        patches = tensor(flat, { shape: [s.length, P / patchLabels.length, patchLabels.length] });
      }
      return { media: tensor(media, { shape: [s.length, ...shape] }), lengths: s.map((x) => x.length), target: tensor(target, { shape: [s.length, K] }), patches };
    },
    units: (b) => b.target.shape[0]!,
    tokens: (b) => b.media.size,
    lossSum: (b) => {
      const heads = model.heads(b.media, b.lengths);
      const z = heads.pooled, y = b.target; // [B, K]
      let loss = bceSum(z, y);
      const correct = noGrad(() => {
        const zs = z.toList(), ys = y.toList();
        return zs.reduce((n, v, i) => n + ((v > 0 ? 1 : 0) === ys[i] ? 1 : 0), 0) / (y.shape[1] ?? 1);
      });
      const sums: Record<string, number> = { label_accuracy: correct };
      if (heads.patch && b.patches) {
        const N = b.patches.shape[1]!;
        loss = loss.add(bceSum(heads.patch, b.patches).mul(1 / N)); // per patch, so both heads weigh alike
        const h = noGrad(() => patchHits(heads.patch!.toFloat32Array(), b.patches!.toFloat32Array()));
        // per sample: the share of its object patches read right (the loop averages over samples)
        const share = (n: number) => (h.objects ? (n / h.objects) * b.target.shape[0]! : 0);
        sums.patch_accuracy = share(h.hits);
        sums.patch_color_accuracy = share(h.colors);
        sums.patch_shape_accuracy = share(h.shapes);
      }
      return { loss, sums };
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
