// Stage 0 for the encoders: supervised attribute prediction from the generator's scene records (meta.jsonl
// beside data.jsonl). A linear head on the mean-pooled features of the vision tower's feature layer predicts
// which (color, shape) pairs an image holds (18 labels). Mean pooling dilutes a 14 px object over 64 patches
// and that head alone taught the tower nothing (issue 5), so a second linear head predicts, for every patch,
// what covers it (`patchLabels`: the color, shape and box of an object, a character of text and its place in
// the word, a bar's value; none for background) from the scene's geometry — dense per-patch targets, as in
// segmentation pretraining. The images are the generator's records (meta.jsonl) or drawn afresh every step
// (`freshImageSamples`, the data path `generate:images`). One on the pooled audio-encoder output predicts the
// number of tones (1–5, one-hot) and which digit words are spoken (10 labels). Every label is a sigmoid
// binary cross-entropy, the multi-label objective of e.g. ML-Decoder / ASL baselines. A set of digits says
// nothing of their order, which asr-digits and audio-number answer, so a per-frame head on the same audio
// features is also trained with CTC (ctc.ts) on the sequence a clip holds: its digit words in order, or one
// `tone` per tone — the encoder learns where each word or beep is, as an ASR encoder does. The heads are a
// training aid: they live beside the model (field `attributeHead`) and are not part of the saved tessera model.
//
// Shapes: I images, A audios, N patches, T encoder frames, C features, K labels.

import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { shapesCanvas } from '../data/synthetic/draw.ts';
import { IMAGE_SIZE } from '../data/synthetic/layout.ts';
import { Rng as SceneRng } from '../data/synthetic/prng.ts';
import { pretrainScene } from '../data/synthetic/shapeTasks.ts';
import { drawChart, drawValues } from '../data/synthetic/chart.ts';
import { drawOcr } from '../data/synthetic/ocr.ts';
import { COLORS, DIGIT_WORDS, SHAPES } from '../data/synthetic/vocab.ts';
import { rgbImage } from '../models/vision/preprocess/decode.ts';
import { Linear } from '../nn/layers.ts';
import { Module } from '../nn/module.ts';
import { audioLengths } from '../models/mllm/qwen2-audio.ts';
import type { TesseraModel } from '../models/tessera/model.ts';
import type { TesseraProcessor } from '../models/tessera/processor.ts';
import { parseMediaRecord } from '../models/tessera/record.ts';
import { bceWithLogitsSum, concat, noGrad, Rng, slice, tensor, type Tensor } from '../tensor/index.ts';
import type { SampleSet } from './loop.ts';
import type { Objective } from './objective.ts';
import { ctcTerm } from './ctc.ts';

export type Modality = 'image' | 'audio';

export const imageLabels: readonly string[] = COLORS.flatMap((c) => SHAPES.map((s) => `${c} ${s}`));
export const audioLabels: readonly string[] = [1, 2, 3, 4, 5].map((n) => `${n} tones`).concat(DIGIT_WORDS.map((w) => `says ${w}`));
/** The classes of the audio CTC head: blank (0), the digit words, and one tone (however long). */
export const ctcLabels: readonly string[] = ['<blank>', ...DIGIT_WORDS, 'tone'];

const CHARS = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'];
const VALUES = ['1', '2', '3', '4', '5', '6', '7', '8', '9'];
/** A box edge in 5% steps of the image (0, 5, …, 100): ground answers in integer percent, IoU ≥ 0.5. */
const EDGE_BINS = Array.from({ length: 21 }, (_, i) => String(i * 5));
/** A character's place in its word (ocr words have ≤ 6 characters). */
const INDEXES = ['0', '1', '2', '3', '4', '5'];

/**
 * Per-patch label groups: the color and the shape of the object covering the patch and that object's box
 * (left, top, right, bottom edge, so every patch of an object says where the whole object is: ground's box,
 * caption's left-to-right order, vqa-position), the character of text covering it (ocr words, bar letters)
 * and its place in the word, and the value of the bar covering it (a bar's letter carries its value too, so
 * the letter's patch says which bar holds which value).
 */
const GROUP_LABELS = {
  color: [...COLORS], shape: [...SHAPES], char: CHARS.map((c) => `char ${c}`), value: VALUES.map((v) => `value ${v}`),
  left: EDGE_BINS.map((b) => `left ${b}`), top: EDGE_BINS.map((b) => `top ${b}`), right: EDGE_BINS.map((b) => `right ${b}`), bottom: EDGE_BINS.map((b) => `bottom ${b}`),
  index: INDEXES.map((i) => `index ${i}`),
};
type Group = keyof typeof GROUP_LABELS;
export const patchLabels: readonly string[] = Object.values(GROUP_LABELS).flat();
/** [first, end) of each group in patchLabels. */
const GROUPS = (() => {
  let at = 0;
  const out = {} as Record<Group, readonly [number, number]>;
  for (const [g, labels] of Object.entries(GROUP_LABELS) as [Group, string[]][]) out[g] = [at, (at += labels.length)];
  return out;
})();

export interface AttributeSample {
  /** [3, H, W] pixels or [M, F] mel features. */
  media: Float32Array;
  /** Valid mel frames (audio only). */
  length: number;
  target: Float32Array;
  /** [N, K] per-patch labels (images only). */
  patches: Float32Array | null;
  /** The clip's sequence of ctcLabels indices (audio only; null when it has none). */
  sequence: number[] | null;
}

// the scene records of meta.jsonl (src/data/synthetic/sample.ts Scene), read loosely: fields may be missing
interface SceneShape { readonly color: string; readonly shape: string; readonly cx?: number; readonly cy?: number; readonly box?: readonly number[] }
interface Scene {
  readonly kind?: string; readonly shapes?: readonly SceneShape[]; readonly tones?: readonly unknown[]; readonly words?: readonly string[]; readonly width?: number;
  // text
  readonly text?: string; readonly height?: number; readonly inkWidth?: number; readonly angle?: number;
  readonly center?: readonly number[]; readonly spans?: readonly (readonly number[])[];
  // chart
  readonly values?: readonly number[]; readonly labels?: readonly string[]; readonly top?: number; readonly plot?: { readonly y0: number; readonly y1: number };
  readonly bars?: { readonly centers: readonly number[]; readonly width: number; readonly labelSize: number };
}

/**
 * [g·g, K] labels of a g×g patch grid from a scene's geometry (the generator's 128 px frame). A patch takes
 * the labels of what covers its centre; the patch holding a thing's centre always does (things smaller than a
 * patch). Shapes label color, shape and their box; ocr text labels each character's patches with the
 * character and its place in the word; a chart labels each bar's patches with its value and its letter's
 * patches with the letter and the value. Null for scenes without that geometry (e.g. a meta.jsonl written
 * before it was recorded).
 */
export function patchTargets(scene: Scene, grid: number): Float32Array | null {
  const K = patchLabels.length, side = scene.kind === 'shapes' ? scene.width ?? 128 : 128, step = side / grid;
  const t = new Float32Array(grid * grid * K);
  const set = (r: number, c: number, group: Group, index: number): void => {
    if (r < 0 || c < 0 || r >= grid || c >= grid) return;
    const [a, b] = GROUPS[group], row = (r * grid + c) * K;
    t.fill(0, row + a, row + b);
    t[row + a + index] = 1;
  };
  // every patch whose centre (x, y) passes `inside`, plus the patch holding (cx, cy)
  const cover = (inside: (x: number, y: number) => boolean, cx: number, cy: number, labels: [Group, number][]): void => {
    for (let r = 0; r < grid; r++) {
      for (let c = 0; c < grid; c++) if (inside((c + 0.5) * step, (r + 0.5) * step)) for (const [g, i] of labels) set(r, c, g, i);
    }
    for (const [g, i] of labels) set(Math.floor(cy / step), Math.floor(cx / step), g, i);
  };
  const inBox = (x1: number, y1: number, x2: number, y2: number) => (x: number, y: number) => x >= x1 && x <= x2 && y >= y1 && y <= y2;
  if (scene.kind === 'shapes' && Array.isArray(scene.shapes)) {
    for (const s of scene.shapes) {
      const [x1, y1, x2, y2] = s.box ?? [];
      if (x1 === undefined || y1 === undefined || x2 === undefined || y2 === undefined) continue;
      const bin = (v: number) => Math.max(0, Math.min(20, Math.round((v / side) * 20)));
      const labels: [Group, number][] = [['color', COLORS.indexOf(s.color as (typeof COLORS)[number])], ['shape', SHAPES.indexOf(s.shape as (typeof SHAPES)[number])],
        ['left', bin(x1)], ['top', bin(y1)], ['right', bin(x2)], ['bottom', bin(y2)]];
      cover(inBox(x1, y1, x2, y2), s.cx ?? (x1 + x2) / 2, s.cy ?? (y1 + y2) / 2, labels);
    }
    return t;
  }
  if (scene.kind === 'text' && scene.text && scene.spans && scene.center && scene.inkWidth !== undefined && scene.height !== undefined) {
    const [ox, oy] = scene.center as [number, number], a = scene.angle ?? 0, cos = Math.cos(a), sin = Math.sin(a);
    const w = scene.inkWidth, h = scene.height;
    [...scene.text].forEach((ch, k) => {
      const [u0, u1] = scene.spans![k]! as [number, number];
      // the text frame: u along the line from the ink's left edge, v down from the ink's middle
      const inside = (x: number, y: number) => {
        const dx = x - ox, dy = y - oy, u = dx * cos + dy * sin + w / 2, v = -dx * sin + dy * cos;
        return u >= u0 && u <= u1 && Math.abs(v) <= h / 2;
      };
      const um = (u0 + u1) / 2 - w / 2;
      const labels: [Group, number][] = [['char', CHARS.indexOf(ch)]];
      if (k < INDEXES.length) labels.push(['index', k]);
      cover(inside, ox + um * cos, oy + um * sin, labels);
    });
    return t;
  }
  if (scene.kind === 'chart' && scene.values && scene.labels && scene.bars && scene.plot && scene.top) {
    const { y0, y1 } = scene.plot, unit = (y1 - y0) / scene.top, { centers, width, labelSize } = scene.bars;
    scene.values.forEach((v, i) => {
      const cx = centers[i]!, top = y1 - v * unit;
      cover(inBox(cx - width / 2, top, cx + width / 2, y1), cx, top + 1, [['value', v - 1]]);
      const ly = y1 + 3;
      cover(inBox(cx - labelSize / 2, ly, cx + labelSize / 2, ly + labelSize), cx, ly + labelSize / 2, [['char', CHARS.indexOf(scene.labels![i]!)], ['value', v - 1]]);
    });
    return t;
  }
  return null;
}

/** The attribute vector of a scene, or null when the scene has no labels of this modality (e.g. a chart for the audio encoder). */
export function sceneTarget(modality: Modality, scene: Scene): Float32Array | null {
  if (modality === 'image') {
    const t = new Float32Array(imageLabels.length);
    // text and charts hold none of the (color, shape) pairs
    if (scene.kind === 'text' || scene.kind === 'chart') return t;
    if (scene.kind !== 'shapes' || !Array.isArray(scene.shapes)) return null;
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

/** The ctcLabels sequence of an audio scene: its digit words in order, or a `tone` per tone; null otherwise. */
export function sceneSequence(scene: Scene): number[] | null {
  if (scene.kind === 'speech' && Array.isArray(scene.words)) {
    const seq = scene.words.map((w) => ctcLabels.indexOf(w));
    return seq.every((i) => i > 0) ? seq : null;
  }
  if (scene.kind === 'tones' && Array.isArray(scene.tones)) return scene.tones.map(() => ctcLabels.indexOf('tone'));
  return null;
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
      return { media, length: 0, target, patches: patchGrid > 0 ? patchTargets(scene, patchGrid) : null, sequence: null };
    }
    const a = await processor.audioFeatures(resolve(baseDir, paths[0]!), `record ${r.id}: audio ${paths[0]}`);
    return { media: a.features, length: a.length, target, patches: null, sequence: sceneSequence(scene) };
  };
}

/** What each `generate:<kind>` data path draws: this share of shape scenes, the rest half ocr text, half bar charts. */
const SHAPE_SHARE = { shapes: 1, images: 0.5, reading: 0 } as const;
export type FreshImages = keyof typeof SHAPE_SHARE;
/** The `generate:` data paths a pretrain-vision stage can draw. */
export const freshImagePaths = Object.keys(SHAPE_SHARE).map((k) => `generate:${k}`);
export const isFreshImages = (kind: string): kind is FreshImages => Object.hasOwn(SHAPE_SHARE, kind);

/**
 * Images drawn afresh for every sample (the stage data paths `generate:shapes`, `generate:images`, `generate:reading`): the
 * generator is unlimited, and a fixed set of 10 k images is learnt by heart (issue 5). Sample i is drawn from
 * Rng.fork(seed, 'pretrain-vision', i) on the train split (its pairs, fonts and chart styles), so a resumed
 * run sees the same images; `length` is how many distinct images the run may draw. Half are shape scenes,
 * a quarter ocr text, a quarter charts (`images`), all shape scenes (`shapes`), or half text, half charts
 * (`reading`).
 */
export function freshImageSamples(kind: FreshImages, processor: TesseraProcessor, patchGrid: number, seed: number, length: number): SampleSet<AttributeSample> {
  const ip = processor.imageProcessor;
  if (!ip) throw new Error(`generate:${kind}: this model takes no images`);
  return {
    length,
    at(i: number): AttributeSample {
      const rng = SceneRng.fork(seed, 'pretrain-vision', i);
      const shapeShare = SHAPE_SHARE[kind];
      // `shapes` draws no pick, so its images are the ones it drew before the other kinds existed
      const pick = kind === 'shapes' ? 0 : rng.next();
      let scene: Scene, rgb: Uint8Array;
      if (pick < shapeShare) {
        const shapes = pretrainScene(rng, 'train');
        scene = { kind: 'shapes', shapes };
        rgb = shapesCanvas(rng, shapes).rgb();
      } else if (pick < shapeShare + (1 - shapeShare) / 2) {
        const { canvas, scene: s } = drawOcr(rng, 'train');
        scene = s;
        rgb = canvas.rgb();
      } else {
        const { canvas, scene: s } = drawChart(rng, 'train', drawValues(rng, false));
        scene = s;
        rgb = canvas.rgb();
      }
      const media = ip.processOne(rgbImage(IMAGE_SIZE, IMAGE_SIZE, rgb)).data;
      return { media, length: 0, target: sceneTarget('image', scene)!, patches: patchGrid > 0 ? patchTargets(scene, patchGrid) : null, sequence: null };
    },
  };
}

/** The training-aid heads: on pooled features, (images) on every patch, (audio) CTC on every audio token. */
class AttributeHeads extends Module {
  pooled: Linear;
  patch: Linear | null;
  ctc: Linear | null;
  constructor(C: number, K: number, patchK: number, ctcK: number, rng: Rng) {
    super();
    this.pooled = new Linear(C, K, { rng });
    this.patch = patchK > 0 ? new Linear(C, patchK, { rng }) : null;
    this.ctc = ctcK > 0 ? new Linear(C, ctcK, { rng }) : null;
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
    this.attributeHead = new AttributeHeads(C, K, modality === 'image' ? patchLabels.length : 0, modality === 'audio' ? ctcLabels.length : 0, new Rng(seed));
    // the wrapper holds the towers, not the tessera model, so parameter names stay `vision.…` / `audio.…`
    Object.defineProperty(this, 'tessera', { enumerable: false });
  }

  /** Label logits [B, K] from pooled features. */
  logits(media: Tensor, lengths: readonly number[]): Tensor {
    return this.heads(media, lengths).pooled;
  }

  /**
   * Label logits [B, K] from pooled features; for images per-patch logits [B, N, Kp]; for audio CTC logits
   * [B, T/2, V] over the audio tokens the LLM reads, with each clip's count of valid tokens.
   */
  heads(media: Tensor, lengths: readonly number[]): { pooled: Tensor; patch: Tensor | null; ctc: { logits: Tensor; frames: number[] } | null } {
    if (this.modality === 'image') {
      const v = this.tessera.config.vision!;
      const x = this.vision!.forward(media, v.featureIndex).hiddenStates[v.featureIndex]!; // [I, N, C]
      return { pooled: this.attributeHead.pooled.forward(x.mean(1)), patch: this.attributeHead.patch!.forward(x), ctc: null }; // [I, K], [I, N, 9]
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
    const ctc = this.attributeHead.ctc ? { logits: this.attributeHead.ctc.forward(pooled), frames: kept } : null; // [A, T/2, V]
    return { pooled: this.attributeHead.pooled.forward(concat(means, 0)), patch: null, ctc }; // [A, K]
  }
}

export interface AttributeBatch {
  media: Tensor;
  lengths: number[];
  target: Tensor; // [B, K]
  patches: Tensor | null; // [B, N, 9]
  sequences: (number[] | null)[];
}


/** Per label group: the labelled patches, and those whose argmax within the group is a true label. */
function patchHits(z: Float32Array, y: Float32Array): Record<Group, { hits: number; total: number }> {
  const K = patchLabels.length;
  const out = Object.fromEntries(Object.keys(GROUPS).map((g) => [g, { hits: 0, total: 0 }])) as Record<Group, { hits: number; total: number }>;
  for (let p = 0; p < y.length / K; p++) {
    for (const [g, [a, b]] of Object.entries(GROUPS) as [Group, readonly [number, number]][]) {
      let best = -1, any = false;
      for (let i = p * K + a; i < p * K + b; i++) {
        if (y[i] === 1) any = true;
        if (best < 0 || z[i]! > z[best]!) best = i;
      }
      if (!any) continue;
      out[g].total++;
      if (y[best] === 1) out[g].hits++;
    }
  }
  return out;
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
      return { media: tensor(media, { shape: [s.length, ...shape] }), lengths: s.map((x) => x.length), target: tensor(target, { shape: [s.length, K] }), patches, sequences: s.map((x) => x.sequence ?? null) };
    },
    units: (b) => b.target.shape[0]!,
    // what the tower runs: an image's patches, a clip's encoder frames (the conv stem halves the mel frames)
    tokens: (b) => {
      const [n, , side] = b.media.shape as [number, number, number];
      if (model.modality === 'audio') return n * (side / 2);
      const patch = model.tessera.config.vision!.vit.patchSize;
      return n * (side / patch) ** 2;
    },
    lossSum: (b) => {
      const heads = model.heads(b.media, b.lengths);
      const z = heads.pooled, y = b.target; // [B, K]
      let loss = bceWithLogitsSum(z, y);
      const correct = noGrad(() => {
        const zs = z.toList(), ys = y.toList();
        return zs.reduce((n, v, i) => n + ((v > 0 ? 1 : 0) === ys[i] ? 1 : 0), 0) / (y.shape[1] ?? 1);
      });
      const sums: Record<string, number> = { label_accuracy: correct };
      if (heads.patch && b.patches) {
        const N = b.patches.shape[1]!;
        loss = loss.add(bceWithLogitsSum(heads.patch, b.patches).mul(1 / N)); // per patch, so both heads weigh alike
        const h = noGrad(() => patchHits(heads.patch!.toFloat32Array(), b.patches!.toFloat32Array()));
        // per sample: the share of the labelled patches of each group read right (the loop averages over
        // samples); a group with no labelled patch in the batch is left out
        const B = b.target.shape[0]!;
        let hits = 0, total = 0;
        for (const [g, c] of Object.entries(h)) {
          if (c.total > 0) sums[`patch_${g}_accuracy`] = (c.hits / c.total) * B;
          hits += c.hits;
          total += c.total;
        }
        if (total > 0) sums.patch_accuracy = (hits / total) * B;
      }
      if (heads.ctc && b.sequences.some((q) => q)) {
        const c = ctcTerm(heads.ctc.logits.logSoftmax(-1), heads.ctc.frames, b.sequences);
        loss = loss.add(c.loss);
        // per sample: the share of clips of each kind whose greedy decoding is their sequence exactly
        const B = b.target.shape[0]!, tone = ctcLabels.indexOf('tone');
        for (const [name, isKind] of [['digits', (q: number[]) => !q.includes(tone)], ['tones', (q: number[]) => q.includes(tone)]] as const) {
          const idx = b.sequences.flatMap((q, i) => (q && q.length > 0 && isKind(q) ? [i] : []));
          if (idx.length > 0) sums[`ctc_${name}_accuracy`] = (idx.filter((i) => c.decoded[i]!.join() === b.sequences[i]!.join()).length / idx.length) * B;
        }
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
