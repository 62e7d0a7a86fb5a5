// Training stages as data: one zod-validated JSON object per stage (LLaVA-1.5's two stages plus encoder
// pretraining and DPO). What trains is named by parameter-name prefixes of the model (`llm`, `vision`,
// `audio`, `visionProjector`, `audioProjector`, or `model`/`lm_head` for a bare CausalLM); a prefix that is
// absent from `trainable` or whose lr is 0 is frozen. Presets are plain objects in the recipes of LLaVA-1.5
// (align: projector only at 1e-3; instruct: projector + LLM at 2e-5) scaled down to the tiny demo model.

import { readFileSync } from 'node:fs';
import { z } from 'zod';

export const stageKinds = ['pretrain-text', 'pretrain-vision', 'pretrain-audio', 'align', 'instruct', 'dpo'] as const;
export type StageKind = (typeof stageKinds)[number];

const positiveInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();

const dataSource = z.object({
  /** A JSONL file (relative to the config's folder), or for pretrain-vision `generate:images` / `generate:shapes` / `generate:reading`:
   * images drawn afresh for every sample (src/train/encoder-pretrain.ts freshImageSamples). */
  path: z.string().min(1),
  weight: z.number().positive().default(1),
}).strict();

const loraSchema = z.object({
  rank: positiveInt,
  alpha: z.number().positive(),
  /** Module-name suffixes of the Linear layers to wrap, e.g. ['q_proj', 'v_proj']. */
  targets: z.array(z.string().min(1)).min(1),
  /** The part whose Linear layers are wrapped (default 'llm'). */
  prefix: z.string().min(1).default('llm'),
}).strict();

const dpoSchema = z.object({
  beta: z.number().positive().default(0.1),
  labelSmoothing: z.number().min(0).max(0.5).default(0),
  reference: z.literal('frozen-initial').default('frozen-initial'),
}).strict();

export const stageSchema = z.object({
  name: z.string().min(1),
  kind: z.enum(stageKinds),
  /** The model directory to start from (the previous stage's output, or a freshly initialised model). */
  model: z.string().min(1).optional(),
  trainable: z.array(z.string().min(1)).min(1),
  lr: z.record(z.string(), z.number().min(0)),
  data: z.array(dataSource).min(1),
  steps: positiveInt,
  batchSize: positiveInt.default(8),
  gradAccum: positiveInt.default(1),
  maxLength: positiveInt.default(512),
  warmup: nonNegInt.default(0),
  minLrRatio: z.number().min(0).max(1).default(0.1),
  weightDecay: z.number().min(0).default(0),
  clip: z.number().positive().default(1),
  evalEvery: nonNegInt.default(0),
  evalData: z.string().min(1).optional(),
  /** Evaluate on at most this many records (keeps evaluation cheap). */
  evalLimit: positiveInt.default(64),
  checkpointEvery: nonNegInt.default(0),
  /** Checkpoints kept on disk (older ones are deleted once a newer one is complete). */
  keepLast: positiveInt.default(2),
  seed: z.number().int().default(0),
  /** Pack text documents into full windows (pretrain-text only). */
  packing: z.boolean().default(true),
  lora: loraSchema.optional(),
  dpo: dpoSchema.optional(),
  /**
   * Conversation stages: keep a frozen vision tower's outputs per image for the stage, so each image goes through the
   * tower once rather than once per batch it is in (its forward is ~12% of a demo where step). It changes rounding
   * only, yet enough to make another draw of a recipe: on the blas backend an image's outputs differ in the last bits
   * with the images that share its batch (measured, cause not traced), so the kept ones differ from what the next batch
   * would compute.
   */
  keepTowerOutputs: z.boolean().default(false),
}).strict().superRefine((s, ctx) => {
  for (const key of Object.keys(s.lr)) {
    if (!s.trainable.includes(key)) ctx.addIssue({ code: 'custom', path: ['lr', key], message: `lr given for "${key}", which is not in trainable [${s.trainable.join(', ')}]` });
  }
  for (const part of s.trainable) {
    if (!(part in s.lr)) ctx.addIssue({ code: 'custom', path: ['lr'], message: `no lr for trainable part "${part}" (give 0 to freeze it)` });
  }
  if (s.warmup > s.steps) ctx.addIssue({ code: 'custom', path: ['warmup'], message: `warmup ${s.warmup} exceeds steps ${s.steps}` });
  if (s.kind === 'dpo' && !s.dpo) ctx.addIssue({ code: 'custom', path: ['dpo'], message: 'a dpo stage needs dpo: {beta, labelSmoothing, reference}' });
  if (s.kind !== 'dpo' && s.dpo) ctx.addIssue({ code: 'custom', path: ['dpo'], message: `dpo settings on a "${s.kind}" stage` });
  if (s.lora && !s.trainable.includes(s.lora.prefix)) {
    ctx.addIssue({ code: 'custom', path: ['lora', 'prefix'], message: `LoRA on "${s.lora.prefix}", which is not in trainable` });
  }
  if (s.evalEvery > 0 && !s.evalData) ctx.addIssue({ code: 'custom', path: ['evalData'], message: 'evalEvery > 0 needs evalData' });
});

export type StageConfig = z.output<typeof stageSchema>;
export type StageInput = z.input<typeof stageSchema>;
export type LoraConfig = z.output<typeof loraSchema>;
export type DpoConfig = z.output<typeof dpoSchema>;

/** Validates a stage object; errors name the source and every bad field by its path. */
export function parseStage(json: unknown, source = 'stage config'): StageConfig {
  const r = stageSchema.safeParse(json);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `  ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
  throw new Error(`${source}: invalid stage config\n${lines.join('\n')}`);
}

export function readStage(path: string): StageConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: cannot read stage config (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: stage config is not valid JSON (${(e as Error).message})`);
  }
  return parseStage(json, path);
}

/** The learning rate of a parameter: that of the longest trainable prefix it falls under, or null (frozen). */
export function lrFor(stage: Pick<StageConfig, 'trainable' | 'lr'>, paramName: string): { part: string; lr: number } | null {
  let best: string | null = null;
  for (const part of stage.trainable) {
    if (hasPrefix(paramName, part) && (best === null || part.length > best.length)) best = part;
  }
  if (best === null) return null;
  const lr = stage.lr[best] ?? 0;
  return lr > 0 ? { part: best, lr } : null;
}

export function hasPrefix(name: string, prefix: string): boolean {
  return name === prefix || name.startsWith(`${prefix}.`);
}

/** Stage presets for the demo model; `data` paths are relative to the run's data folder. */
export const presets: Readonly<Record<string, StageInput>> = {
  'pretrain-text': {
    name: 'pretrain-text', kind: 'pretrain-text', trainable: ['llm'], lr: { llm: 3e-3 },
    data: [{ path: 'text/train.jsonl', weight: 1 }], steps: 2000, batchSize: 8, maxLength: 128, warmup: 100, weightDecay: 0.01,
  },
  'pretrain-vision': {
    name: 'pretrain-vision', kind: 'pretrain-vision', trainable: ['vision'], lr: { vision: 1e-3 },
    data: [{ path: 'image/train.jsonl', weight: 1 }], steps: 1000, batchSize: 16, warmup: 50, weightDecay: 0.01,
  },
  'pretrain-audio': {
    name: 'pretrain-audio', kind: 'pretrain-audio', trainable: ['audio'], lr: { audio: 1e-3 },
    data: [{ path: 'audio/train.jsonl', weight: 1 }], steps: 1000, batchSize: 16, warmup: 50, weightDecay: 0.01,
  },
  align: {
    name: 'align', kind: 'align', trainable: ['visionProjector', 'audioProjector'], lr: { visionProjector: 1e-3, audioProjector: 1e-3 },
    data: [{ path: 'image/train.jsonl', weight: 2 }, { path: 'audio/train.jsonl', weight: 1 }], steps: 1000, batchSize: 16, warmup: 30,
  },
  instruct: {
    name: 'instruct', kind: 'instruct', trainable: ['visionProjector', 'audioProjector', 'llm'],
    lr: { visionProjector: 2e-4, audioProjector: 2e-4, llm: 2e-4 },
    data: [{ path: 'image/train.jsonl', weight: 2 }, { path: 'audio/train.jsonl', weight: 1 }, { path: 'tool/train.jsonl', weight: 0.5 }],
    steps: 2000, batchSize: 8, warmup: 60, weightDecay: 0.0,
  },
  dpo: {
    name: 'dpo', kind: 'dpo', trainable: ['llm'], lr: { llm: 5e-6 },
    data: [{ path: 'prefs/train.jsonl', weight: 1 }], steps: 200, batchSize: 4, warmup: 10,
    dpo: { beta: 0.1, labelSmoothing: 0, reference: 'frozen-initial' },
  },
};

export function presetStage(name: string): StageConfig {
  const p = presets[name];
  if (!p) throw new Error(`unknown stage preset "${name}" (known: ${Object.keys(presets).join(', ')})`);
  return parseStage(p, `preset ${name}`);
}
