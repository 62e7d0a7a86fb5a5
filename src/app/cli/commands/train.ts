// `tessera train|eval|predict`: training stages from a config or preset, and scoring / prediction on JSONL.
//   tessera train --stage CONFIG.json | --preset NAME --out RUN_DIR [--model DIR] [--resume] [--on-bad-record skip|fail] [--steps N]
//   tessera train --recipe smoke|quick|demo --out RUN_DIR [--resume] [--save-to DIR]   (a whole recipe: src/train/recipes/)
//   tessera eval --model DIR --data X.jsonl [--limit N] [--no-baseline] [--json]
//   tessera predict --model DIR --data X.jsonl --out P.jsonl [--limit N]
import type { Command } from 'commander';
import { dirname, resolve } from 'node:path';

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !(n > 0)) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

export function registerTrainCommands(program: Command): void {
  program.command('train')
    .description('run one training stage (pretrain-text, align, instruct, dpo), or a whole recipe, and save the model to RUN_DIR/model')
    .option('--stage <config>', 'stage config JSON')
    .option('--preset <name>', 'a built-in stage preset instead of a config file')
    .option('--recipe <name>', 'a whole recipe (smoke, quick, demo): data, tokenizer, every stage, held-out eval')
    .option('--save-to <dir>', 'with --recipe: also copy the final model folder here (e.g. models/tessera-demo)')
    .requiredOption('--out <runDir>', 'run directory (checkpoints, metrics.jsonl, loss.png, model/)')
    .option('--model <dir>', 'model to start from (overrides the config\'s "model")')
    .option('--data-root <dir>', 'folder that relative data paths are resolved against (default: the config file\'s folder, or the cwd for presets)')
    .option('--resume', 'continue from the newest checkpoint in RUN_DIR', false)
    .option('--on-bad-record <mode>', 'skip or fail', 'skip')
    .option('--steps <n>', 'override the number of steps')
    .action(async (opts: { stage?: string; preset?: string; recipe?: string; saveTo?: string; out: string; model?: string; dataRoot?: string; resume: boolean; onBadRecord: string; steps?: string }) => {
      if ([opts.stage, opts.preset, opts.recipe].filter(Boolean).length !== 1) throw new Error('train: give exactly one of --stage CONFIG.json, --preset NAME or --recipe NAME');
      if (opts.recipe) {
        const { runRecipe } = await import('../../../train/recipes/run-recipe.ts');
        const r = await runRecipe(opts.recipe, opts.out, { resume: opts.resume, ...(opts.saveTo ? { saveTo: opts.saveTo } : {}) });
        console.log(JSON.stringify({ recipe: opts.recipe, model: r.modelDir, wall_s: r.wallSeconds, accuracy: r.eval?.final.overall.accuracy ?? null, baseline: r.eval?.final.overall.baseline ?? null }));
        return;
      }
      if (opts.saveTo) throw new Error('train: --save-to goes with --recipe');
      await (await import('../../../backend/select.ts')).initBackend();
      const { readStage, presetStage, parseStage } = await import('../../../train/stages.ts');
      const { runStage } = await import('../../../train/run.ts');
      if (opts.onBadRecord !== 'skip' && opts.onBadRecord !== 'fail') throw new Error(`--on-bad-record must be skip or fail, got ${JSON.stringify(opts.onBadRecord)}`);
      let stage = opts.stage ? readStage(opts.stage) : presetStage(opts.preset!);
      if (opts.steps) stage = parseStage({ ...stage, steps: positiveInt('steps', opts.steps), warmup: Math.min(stage.warmup, positiveInt('steps', opts.steps)) }, '--steps');
      const r = await runStage({
        stage, outDir: resolve(opts.out), resume: opts.resume, onBadRecord: opts.onBadRecord,
        baseDir: resolve(opts.dataRoot ?? (opts.stage ? dirname(opts.stage) : '.')),
        ...(opts.model ? { modelDir: resolve(opts.model) } : {}),
      });
      console.log(JSON.stringify({ stage: stage.name, steps: r.step, loss: r.lastLoss, model: r.modelDir, resumedFrom: r.resumedFrom }));
    });

  program.command('eval')
    .description('per-task accuracy, count, chance and the no-media baseline on a JSONL of task records')
    .requiredOption('--model <dir>', 'tessera model folder')
    .requiredOption('--data <file>', 'JSONL of task records')
    .option('--limit <n>', 'score at most N records')
    .option('--no-baseline', 'skip the no-media baseline')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { model: string; data: string; limit?: string; baseline: boolean; json?: boolean }) => {
      await (await import('../../../backend/select.ts')).initBackend();
      const { evaluateFile, formatReport } = await import('../../../eval/evaluate.ts');
      const report = await evaluateFile(opts.model, opts.data, { baseline: opts.baseline, ...(opts.limit ? { limit: positiveInt('limit', opts.limit) } : {}) });
      console.log(opts.json ? JSON.stringify(report) : formatReport(report));
    });

  program.command('predict')
    .description('greedy answers per record as {"id","answer"} (tool records: {"id","turns"}) JSON lines')
    .requiredOption('--model <dir>', 'tessera model folder')
    .requiredOption('--data <file>', 'JSONL of task records')
    .requiredOption('--out <file>', 'predictions JSONL')
    .option('--limit <n>', 'at most N records')
    .action(async (opts: { model: string; data: string; out: string; limit?: string }) => {
      await (await import('../../../backend/select.ts')).initBackend();
      const { predictFile } = await import('../../../eval/predict.ts');
      const n = await predictFile(opts.model, opts.data, opts.out, opts.limit ? { limit: positiveInt('limit', opts.limit) } : {});
      process.stderr.write(`wrote ${n} prediction(s) to ${opts.out}\n`);
    });
}
