// `runRecipe(name, outDir, {resume})`: a whole training recipe (recipe.ts, presets.ts) end to end — data,
// tokenizer and initial model (prepare.ts), every stage in order through `runStage` (each starting from the
// previous stage's model), the final model saved as <out>/model (float32 or float16 weights), and the held-out
// evaluation (report.ts) as <out>/eval.json + <out>/report.md, copied beside the model.
//
// Progress is kept in <out>/progress.json (phases done, stage timings). `resume` skips what is done and
// continues the interrupted stage from its newest checkpoint (runStage resume: same weights, bit for bit, as an
// uninterrupted run); without it an <out> that already holds a run is an error, never silently overwritten.

import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initBackend } from '../../backend/select.ts';
import { openSafetensors, writeSafetensors, type TensorData } from '../../io/safetensors.ts';
import { f32ToF16 } from '../../tensor/dtype.ts';
import { runStage } from '../run.ts';
import { EncodedFiles } from '../encoded-files.ts';
import { parseStage } from '../stages.ts';
import { prepareData, prepareModel } from './prepare.ts';
import { getRecipe } from './presets.ts';
import { checkRecipe, type Recipe } from './recipe.ts';
import { evaluateRecipe, stageTiming, writeRecipeReport, type RecipeEval, type StageTiming } from './report.ts';

export interface RunRecipeOptions {
  /** Continue a run in outDir (a fresh start when there is none). */
  resume?: boolean;
  /** Also copy the final model folder (with eval.json and report.md) here, e.g. models/tessera-demo. */
  saveTo?: string;
  quiet?: boolean;
  /** Skip the held-out evaluation. */
  noEval?: boolean;
}

interface Progress {
  recipe: string;
  done: string[];
  timings: StageTiming[];
  /** Seconds spent in earlier processes (a resumed run adds its own). */
  elapsed: number;
}

export interface RunRecipeResult {
  modelDir: string;
  eval: RecipeEval | null;
  wallSeconds: number;
}

export async function runRecipe(name: string | Recipe, outDir: string, o: RunRecipeOptions = {}): Promise<RunRecipeResult> {
  const recipe = typeof name === 'string' ? getRecipe(name) : name;
  checkRecipe(recipe);
  const stages = recipe.stages.map((s) => parseStage(s, `recipe ${recipe.name}: stage ${s.name}`));
  const out = resolve(outDir), dataDir = join(out, 'data'), initDir = join(out, 'init');
  const progressPath = join(out, 'progress.json');
  const log = (s: string) => { if (!o.quiet) process.stderr.write(`[recipe ${recipe.name}] ${s}\n`); };
  let progress: Progress = { recipe: recipe.name, done: [], timings: [], elapsed: 0 };
  if (existsSync(progressPath)) {
    if (!o.resume) throw new Error(`${out} already holds a recipe run: pass --resume to continue it, or choose a new --out`);
    progress = JSON.parse(readFileSync(progressPath, 'utf8')) as Progress;
    if (progress.recipe !== recipe.name) throw new Error(`${out} holds a run of recipe "${progress.recipe}", not "${recipe.name}"`);
    log(`resuming: done ${progress.done.join(', ') || 'nothing'}`);
  }
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'recipe.json'), `${JSON.stringify(recipe, null, 2)}\n`);
  const t0 = performance.now();
  const wall = () => progress.elapsed + (performance.now() - t0) / 1000;
  const save = () => writeFileSync(progressPath, `${JSON.stringify({ ...progress, elapsed: wall() }, null, 2)}\n`);
  const phase = async (id: string, fn: () => Promise<void> | void) => {
    if (progress.done.includes(id)) return;
    await fn();
    progress.done.push(id);
    save();
  };
  save();

  const backend = await initBackend();
  log(`backend ${backend.name} (${backend.threads} threads)`);
  await phase('data', async () => {
    const s = performance.now();
    await prepareData(recipe, dataDir, log);
    progress.timings.push({ stage: 'data', steps: 0, seconds: (performance.now() - s) / 1000, trainSeconds: 0, secondsPerStep: 0 });
  });
  await phase('model', () => prepareModel(recipe, dataDir, initDir, log));

  let modelDir = initDir;
  const encodedFiles = new EncodedFiles();
  for (const [i, stage] of stages.entries()) {
    const runDir = join(out, 'stages', stage.name);
    const from = modelDir;
    await phase(`stage:${stage.name}`, async () => {
      const s = performance.now();
      log(`stage ${stage.name} (${stage.kind}, ${stage.steps} steps)`);
      await runStage({ stage, outDir: runDir, modelDir: from, baseDir: dataDir, resume: true, quiet: o.quiet ?? false, encodedFiles });
      encodedFiles.retain(new Set(stages.slice(i + 1).flatMap((later) => later.data.map((d) => resolve(dataDir, d.path)))));
      const timing = stageTiming(stage.name, runDir, (performance.now() - s) / 1000);
      progress.timings = [...progress.timings.filter((t) => t.stage !== stage.name), timing];
      log(`stage ${stage.name}: ${timing.seconds.toFixed(0)} s, ${timing.secondsPerStep.toFixed(2)} s/step`);
    });
    modelDir = join(runDir, 'model');
  }

  const finalDir = join(out, 'model');
  await phase('final', () => saveFinal(modelDir, finalDir, recipe.saveDtype));
  let evaluation: RecipeEval | null = null;
  if (!o.noEval) {
    await phase('eval', async () => {
      const s = performance.now();
      const compareDir = recipe.eval.compareStage ? join(out, 'stages', recipe.eval.compareStage, 'model') : null;
      const e = await evaluateRecipe(recipe, { finalDir, compareDir, heldout: join(dataDir, 'heldout/data.jsonl'), train: join(dataDir, 'train/data.jsonl'),
        timings: progress.timings, wallSeconds: 0 });
      progress.timings.push({ stage: 'eval', steps: 0, seconds: (performance.now() - s) / 1000, trainSeconds: 0, secondsPerStep: 0 });
      e.timings = progress.timings;
      e.wallSeconds = wall();
      writeRecipeReport(out, e);
      for (const f of ['eval.json', 'report.md']) copyFileSync(join(out, f), join(finalDir, f));
    });
    evaluation = existsSync(join(out, 'eval.json')) ? JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8')) as RecipeEval : null;
  }
  if (o.saveTo) copyModelDir(finalDir, resolve(o.saveTo));
  save();
  log(`done in ${(wall() / 60).toFixed(1)} min: ${finalDir}`);
  return { modelDir: finalDir, eval: evaluation, wallSeconds: wall() };
}

const modelFiles = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja', 'preprocessor_config.json', 'eval.json', 'report.md'];

function copyModelDir(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const f of modelFiles) if (existsSync(join(from, f))) copyFileSync(join(from, f), join(to, f));
}

/** The last stage's model as the shipped folder; float16 halves the weights (loadTessera widens them again). */
function saveFinal(from: string, to: string, dtype: Recipe['saveDtype']): void {
  copyModelDir(from, to);
  if (dtype === 'float32') return;
  const src = openSafetensors(join(from, 'model.safetensors'));
  const tensors: Record<string, TensorData> = {};
  try {
    for (const k of src.keys()) {
      const x = src.readFloat32(k);
      const h = new Uint16Array(x.length);
      for (let i = 0; i < x.length; i++) h[i] = f32ToF16(x[i]!);
      tensors[k] = { dtype: 'float16', shape: [...src.info(k).shape], data: h };
    }
  } finally {
    src.close();
  }
  writeSafetensors(join(to, 'model.safetensors'), tensors, { format: 'pt', producer: 'tessera' });
}
