// The three recipes: `smoke` (CI: every stage for a few steps on tiny data and a tiny model), `quick` (every
// stage of the demo model, sized to run in ≤ 10 minutes on 2 cores) and `demo` (the recipe of models/tessera-demo,
// ≤ 90 minutes on 2 cores). quick and demo share the model, so quick's measured seconds per step size demo.
//
// The stage sequence follows LLaVA-1.5 (align: projectors only at 1e-3 on captions; instruct: projectors + LLM on
// everything, loss on answers) with a stage 0 in front — the LLM learns the task language from text, the towers
// learn per patch the colors/shapes, characters and bar values of images drawn afresh every step, and the
// audio encoder the tones and digits a clip holds and, by CTC, their order (encoder-pretrain.ts) — then a stage of
// where-questions (which half of the image a named object is in), one of bar values, one of boxes, and an easy instruct phase
// between align and the full mix (the curriculum below), and DPO behind (β 0.1, the preference pairs weighted towards vqa-exist, whose
// rejected answers are hallucinated "yes"). As in LLaVA the vision tower is frozen after its pretraining; the
// audio encoder keeps training in the instruct phases (before its CTC pretraining it had to learn the digits'
// order there).

import type { TaskName } from '../../data/synthetic/vocab.ts';
import type { StageInput } from '../stages.ts';
import { allTasks, perTask, taskMix, type Recipe, type RecipeModel } from './recipe.ts';

/** The demo model: 2.8 M parameters (11.2 MB float32); 64 image tokens (128 px / patch 16), ≤ 75 audio tokens (3 s). */
export const demoModel: RecipeModel = {
  hidden: 192, layers: 4, heads: 6, kvHeads: 2, maxPositions: 512,
  vision: { imageSize: 128, patchSize: 16, hidden: 128, layers: 4, heads: 4 },
  audio: { melBins: 32, dModel: 128, layers: 3, heads: 4, seconds: 3 },
  // ≈ 1/√hidden: HF's 0.02 is sized for widths ≥ 768; at 192 it leaves attention near-uniform and the
  // media rows unreadable for hundreds of steps (issue 5: held-out accuracy equal to the no-media baseline)
  initStd: 0.07,
};

const tinyModel: RecipeModel = {
  hidden: 32, layers: 1, heads: 2, kvHeads: 1, maxPositions: 512,
  vision: { imageSize: 32, patchSize: 8, hidden: 16, layers: 1, heads: 2 },
  audio: { melBins: 16, dModel: 16, layers: 1, heads: 2, seconds: 3 },
  initStd: 0.1,
};

/** Step counts and batch sizes of one stage sequence; everything else is shared by quick and demo. */
interface Schedule {
  text: number; vision: number; audio: number; align: number; where: number; bars: number; boxes: number; easy: number; instruct: number; refresh: number; dpo: number;
  batch: number; checkpointEvery: number;
  /** batch of the where, bars and boxes stages: their phase changes are noise-bound (DEVELOPERS.md) */
  whereBatch: number;
  /** lr of every part in instruct. At demo size 1e-3 learns vqa-color slower than 5e-4 (66% vs 75% on train
   * records after 300 steps) and 3e-3 collapses to one answer (scripts/experiments/single-task.ts). */
  instructLr: number;
  /** Stages after pretrain-vision keep the frozen tower's outputs per image (stages.ts keepTowerOutputs). */
  keepTowerOutputs: boolean;
}

const alignTasks: Partial<Record<TaskName, number>> = { caption: 2, ocr: 1, 'asr-digits': 1, 'chart-value': 1, beeps: 1, pitch: 1 };
// Curriculum (issue 5): the full mix first teaches the answer priors it can read off the questions and the
// media rows stay unused; a first phase on tasks whose answer is only in the media and has few values (one
// attribute of one object, one property of a sound) makes the LLM read the media rows before the mix starts.
const easyTasks: Partial<Record<TaskName, number>> = { 'vqa-color': 1, 'vqa-shape': 1, beeps: 1, pitch: 1 };
// harder tasks (reading, counting, charts, boxes, tool calls) get more of the instruct mix
const instructWeights = allTasks({ ocr: 2, 'vqa-count': 1.5, 'chart-value': 2, ground: 2, tool: 1.5, 'cross-count': 1.5, 'asr-digits': 1.5, 'audio-number': 1.5, beeps: 1.5 });
// the where-questions stay in the mix at a weight the skill keeps at (1 was not enough with the tower training in
// the easy phase; 3 with it frozen there, DEVELOPERS.md)
const whereWeight = 3;

function stages(s: Schedule): StageInput[] {
  const common = { checkpointEvery: s.checkpointEvery, keepLast: 1, seed: 0, keepTowerOutputs: s.keepTowerOutputs } as const;
  // each record asked up to 3 more questions about its own media after its own (prepare.ts): 34.1% held-out
  // vs 30.6% for the single-question records, in 682 s vs 554 s of training from the same start (DEVELOPERS.md)
  const instructMix = [...taskMix(instructWeights, (t) => `train/mq-task-${t}.jsonl`), { path: 'train/multiturn.jsonl', weight: 1 },
    { path: 'train/where.jsonl', weight: whereWeight }];
  return [
    {
      name: 'pretrain-text', kind: 'pretrain-text', trainable: ['llm'], lr: { llm: 3e-3 }, data: [{ path: 'text/train.jsonl', weight: 1 }],
      steps: s.text, batchSize: 16, maxLength: 128, warmup: Math.ceil(s.text / 20), weightDecay: 0.01, ...common,
    },
    {
      // fresh images every step: a fixed set of 10.5 k is learnt by heart, and held-out shape reading after 1000
      // steps is 67.8% fresh vs 65.3% fixed; text and charts make the characters and bar values readable
      name: 'pretrain-vision', kind: 'pretrain-vision', trainable: ['vision'], lr: { vision: 1e-3 }, data: [{ path: 'generate:images', weight: 1 }],
      steps: s.vision, batchSize: 32, warmup: Math.ceil(s.vision / 20), weightDecay: 0.01, ...common,
    },
    {
      // the CTC head sits on a blank-only plateau for the first ~1000 steps at demo size, then learns the digits'
      // order: held-out clips (half in unseen voices) decoded exactly 0.5% / 15% / 42% / 75% at steps 500 / 1000 /
      // 1500 / 3000 in the shipped run (DEVELOPERS.md); the eval logs that as eval_ctc_digits_accuracy (the first 200 held-out sound
      // records, which are the speech tasks' in the file's task order)
      name: 'pretrain-audio', kind: 'pretrain-audio', trainable: ['audio'], lr: { audio: 2e-3 }, data: [{ path: 'train/sounds.jsonl', weight: 1 }],
      steps: s.audio, batchSize: 16, warmup: Math.ceil(s.audio / 20), weightDecay: 0.01,
      evalData: 'heldout/sounds.jsonl', evalEvery: Math.ceil(s.audio / 6), evalLimit: 200, ...common,
    },
    {
      name: 'align', kind: 'align', trainable: ['visionProjector', 'audioProjector'], lr: { visionProjector: 1e-3, audioProjector: 1e-3 },
      data: taskMix(alignTasks), steps: s.align, batchSize: s.batch, maxLength: 256, warmup: Math.ceil(s.align / 20), ...common,
    },
    {
      // which object a question names, and which half of the image it is in (prepare.ts whereQuestions): alone,
      // from the align model, the loss sits at chance and then falls (87.5% held-out once it has); in the mix it
      // was never learnt, and from the easy phase's model it stayed at chance for 2,300 steps, so it comes first.
      // At batch 8 when the loss left chance was a matter of the draw: ~1,100 steps in session 14's run, and from one
      // align model ~1,750, ~4,000, ~4,000 and > 4,900 under four data orders. At batch 32 all four orders left it by
      // ~700 steps and ended at 0.06-0.14 a token (DEVELOPERS.md): the plateau is the gradient's noise, so this
      // stage takes 4x the batch of the others
      name: 'where', kind: 'instruct', trainable: ['visionProjector', 'llm'], lr: { visionProjector: s.instructLr, llm: s.instructLr },
      data: [{ path: 'train/where.jsonl', weight: 1 }], steps: s.where, batchSize: s.whereBatch, maxLength: 256, warmup: Math.ceil(s.where / 20), ...common,
    },
    {
      // the value of each bar of the training charts (prepare.ts barQuestions), at the where stage's batch: from the
      // where model, bars alone at batch 32 took the loss from chance (1.1 a token) to 0.58 in 1,500 steps and
      // held-out chart-value to 50%, where the full mix leaves it near chance (16-24%) and a batch-8 stage of one
      // epoch reached 38% (DEVELOPERS.md). Bars alone unlearn the where-questions (held-out 89% -> 1%, answered with
      // digits); with a third of each batch on them, 2,000 steps keep them (89%) and read 41% of held-out bars
      name: 'bars', kind: 'instruct', trainable: ['visionProjector', 'llm'], lr: { visionProjector: s.instructLr, llm: s.instructLr },
      data: [{ path: 'train/bars.jsonl', weight: 1 }, { path: 'train/where.jsonl', weight: 0.5 }],
      steps: s.bars, batchSize: s.whereBatch, maxLength: 256, warmup: Math.ceil(s.bars / 20), ...common,
    },
    {
      // ground's box of every object of the training shape images (prepare.ts boxQuestions), with the where and
      // bar questions kept in a third of each batch: from the bars model, 1,500 steps at batch 32 read 32% of
      // 300 held-out boxes (IoU >= 0.5; 0% before, 4% in the model the recipe made without this stage) and kept
      // the where-questions (89 -> 91%) and the bars (41 -> 45%) (DEVELOPERS.md)
      name: 'boxes', kind: 'instruct', trainable: ['visionProjector', 'llm'], lr: { visionProjector: s.instructLr, llm: s.instructLr },
      data: [{ path: 'train/boxes.jsonl', weight: 1 }, { path: 'train/where.jsonl', weight: 0.5 }, { path: 'train/bars.jsonl', weight: 0.5 }],
      steps: s.boxes, batchSize: s.whereBatch, maxLength: 256, warmup: Math.ceil(s.boxes / 20), ...common,
    },
    {
      // the vision tower stays as pretrained: trained here (on color and shape questions) it lost what the
      // where stage had taught (held-out 53.3% with it frozen, 42.6% training; frozen without the where-questions
      // anywhere 47.4%, the previous recipe 45.9%: DEVELOPERS.md)
      name: 'instruct-easy', kind: 'instruct', trainable: ['audio', 'visionProjector', 'audioProjector', 'llm'],
      lr: { audio: s.instructLr, visionProjector: s.instructLr, audioProjector: s.instructLr, llm: s.instructLr },
      data: taskMix(easyTasks), steps: s.easy, batchSize: s.batch, maxLength: 256, warmup: Math.ceil(s.easy / 20), minLrRatio: 0.5, ...common,
    },
    {
      // the vision tower frozen, as LLaVA does: its backward was a quarter of the step (0.40 → 0.30 s/step with
      // both towers frozen, 0.35 with vision alone), and 600 steps with it frozen scored as well on held-out
      // records as 600 steps training it (DEVELOPERS.md); the audio encoder keeps training
      name: 'instruct', kind: 'instruct', trainable: ['audio', 'visionProjector', 'audioProjector', 'llm'],
      lr: { audio: s.instructLr, visionProjector: s.instructLr, audioProjector: s.instructLr, llm: s.instructLr },
      data: instructMix,
      steps: s.instruct, batchSize: s.batch, maxLength: 384, warmup: Math.ceil(s.instruct / 25), minLrRatio: 0.05, ...common,
    },
    {
      // a short pass at a fifth of the lr over the mix with the box and bar questions added (~40% of the records),
      // from the instruct model: meant to bring back the stages' skills the mix wears down, it did not (held-out
      // boxes 17 -> 15%, bars 23 -> 25%), but as an anneal of the mix's end it took the paired held-out score
      // 54.4 -> 55.6% (z 1.8; tool 6 -> 14%, chart-value 23 -> 28%; DEVELOPERS.md, session 22)
      name: 'refresh', kind: 'instruct', trainable: ['visionProjector', 'llm'], lr: { visionProjector: 1e-4, llm: 1e-4 },
      data: [...instructMix, { path: 'train/boxes.jsonl', weight: 8 }, { path: 'train/bars.jsonl', weight: 8 }],
      steps: s.refresh, batchSize: 16, maxLength: 384, warmup: Math.ceil(s.refresh / 20), minLrRatio: 0.1, ...common,
    },
    {
      // The preference loss stays at 0.69 (reward accuracy ~50%): the policy cannot yet tell the chosen answer
      // from the media, so DPO mostly drifts the yes/no prior. At 1e-4 for 80 steps that drift made every
      // vqa-exist answer "no" (false "yes" 68% -> 0%, accuracy 56% -> 50%, caption 12% -> 4%); at 3e-5 for 60
      // steps the false "yes" went 72% -> 64% with the other tasks within 4 points; from the session-4 instruct
      // model (vision frozen in instruct) the same stage took it 48% -> 24% and vqa-exist 54% -> 60%
      name: 'dpo', kind: 'dpo', trainable: ['llm'], lr: { llm: 3e-5 },
      data: taskMix(allTasks({ 'vqa-exist': 4, caption: 2 }), (t) => `train/prefs-${t}.jsonl`),
      steps: s.dpo, batchSize: 8, maxLength: 384, warmup: Math.ceil(s.dpo / 10), dpo: { beta: 0.1, labelSmoothing: 0, reference: 'frozen-initial' }, ...common,
    },
  ];
}

export const recipes: Readonly<Record<string, Recipe>> = {
  smoke: {
    name: 'smoke', description: 'CI: every stage for a few steps on a tiny model and tiny data (≤ ~90 s)',
    data: { train: perTask(3), heldout: 2, textLines: 60, multiturn: 4, moreQuestions: 3, prefsPerTask: 3, trainSeed: 1, heldoutSeed: 1001 },
    tokenizer: { vocabSize: 400, minFrequency: 2, spellCapitals: true },
    model: tinyModel,
    stages: stages({ text: 2, vision: 2, audio: 2, align: 2, where: 2, bars: 2, boxes: 2, whereBatch: 4, easy: 2, instruct: 3, refresh: 2, dpo: 2, batch: 4, checkpointEvery: 2, instructLr: 1e-3, keepTowerOutputs: true }).map((s) => ({ ...s, batchSize: 4 })),
    eval: { perTask: 1, baseline: true, maxNewTokens: 12, compareStage: 'refresh', trainPerTask: 1 },
    saveDtype: 'float32',
  },
  quick: {
    name: 'quick', description: 'every stage of the demo model, ≤ 10 minutes on 2 cores',
    data: { train: perTask(100), heldout: 10, textLines: 3000, multiturn: 60, moreQuestions: 3, prefsPerTask: 20, trainSeed: 1, heldoutSeed: 1001 },
    tokenizer: { vocabSize: 1024, minFrequency: 2, spellCapitals: true },
    model: demoModel,
    stages: stages({ text: 40, vision: 80, audio: 10, align: 40, where: 25, bars: 25, boxes: 25, whereBatch: 32, easy: 400, instruct: 240, refresh: 20, dpo: 6, batch: 8, checkpointEvery: 40, instructLr: 5e-4, keepTowerOutputs: true }),
    eval: { perTask: 10, baseline: true, maxNewTokens: 32, compareStage: 'refresh', trainPerTask: 10 },
    saveDtype: 'float32',
  },
  // Measured on 2 cores (blas, AMD EPYC VM, OpenBLAS), the run that made models/tessera-demo (session 26: session
  // 23's run up to pretrain-text, then this recipe): data 572 s in that run (~430 s now, espeak-ng in process), text
  // 400 × 0.18 s, vision 4800 × 0.16 s (fresh images drawn every step), audio 3000 × 0.11 s, align 200 × 0.08 s, where
  // 1500 × 0.27 s, bars 2000 × 0.30 s, boxes 1500 × 0.31 s (batch 32 each, the frozen tower's outputs kept), easy 500 ×
  // 0.11 s, instruct 5700 × 0.18 s (~3 answers a record), refresh 300 × 0.29 s at batch 16, dpo 60 × 0.35 s, eval
  // 65 s: 78.9 min on its clock, ~76.5 min from nothing. Its text and audio pretraining are session 24's model's
  // tensor for tensor; against that model on the 1,600 held-out items 59.4% vs 57.0% (z 2.2): chart-value 22 -> 43%,
  // chart-max 65 -> 82%, ground 29 -> 44%, vqa-color 53 -> 77%, audio-number 69 -> 56%, caption 44 -> 34%.
  // History (DEVELOPERS.md): instruct at 5,200 / 5,700 / 6,200 steps scored 55.6 / 57.0 / 55.4%, a refresh of 600
  // steps 54.6%. The where stage's batch of 32: at batch 8 (3,000 steps) it left the plateau in session 14's run but
  // in only one of four draws from session 17's align model; 1,500 steps at batch 32 left it in all four. Session
  // 25's norm kernels (row sums over four accumulators) compute an audio encoder that reads digits worse (both runs
  // with them share it: 54.7%, and 55.2% with the 4,800 vision steps), so they are not in the engine.
  demo: {
    name: 'demo', description: 'the recipe of models/tessera-demo, ≤ 90 minutes on 2 cores',
    data: { train: perTask(1500, { tool: 1000, 'cross-count': 1200 }), heldout: 100, textLines: 30000, multiturn: 800, moreQuestions: 3, prefsPerTask: 300, trainSeed: 1, heldoutSeed: 1001 },
    tokenizer: { vocabSize: 1024, minFrequency: 2, spellCapitals: true },
    model: demoModel,
    stages: stages({ text: 400, vision: 4800, audio: 3000, align: 200, where: 1500, bars: 2000, boxes: 1500, whereBatch: 32, easy: 500, instruct: 5700, refresh: 300, dpo: 60, batch: 8, checkpointEvery: 50, instructLr: 5e-4, keepTowerOutputs: true }),
    eval: { perTask: 50, baseline: true, maxNewTokens: 32, compareStage: 'refresh', trainPerTask: 25 },
    saveDtype: 'float32',
  },
};

export function getRecipe(name: string): Recipe {
  const r = recipes[name];
  if (!r) throw new Error(`unknown recipe "${name}" (known: ${Object.keys(recipes).join(', ')})`);
  return r;
}

