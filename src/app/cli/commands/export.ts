// `tessera export`: write a tessera checkpoint as a folder transformers loads, and `tessera init-tessera`: a tiny
// randomly initialised tessera checkpoint (its own small tokenizer) for smoke runs and the export check.
//   tessera export --model DIR --format hf-llava|hf-qwen2-audio --out DIR
//   tessera init-tessera --out DIR [--seed N] [--std X] [--jitter X]
import type { Command } from 'commander';
import { loadTessera, saveTessera } from '../../../models/tessera/checkpoint.ts';
import { exportFormats, exportTessera, type ExportFormat } from '../../../models/tessera/export.ts';
import { tinyTessera } from '../../../models/tessera/tiny.ts';

export function runExport(opts: { model: string; format: string; out: string }): string[] {
  if (!(exportFormats as readonly string[]).includes(opts.format)) {
    throw new Error(`--format must be one of ${exportFormats.join(', ')}, got ${JSON.stringify(opts.format)}`);
  }
  const { model, processor } = loadTessera(opts.model);
  return exportTessera(model, processor, opts.format as ExportFormat, opts.out);
}

function number(name: string, v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${JSON.stringify(v)}`);
  return n;
}

export function registerExportCommands(program: Command): void {
  program.command('export')
    .description('export a tessera checkpoint for transformers (LLaVA: vision-language part; Qwen2-Audio: audio-language part)')
    .requiredOption('--model <dir>', 'tessera checkpoint folder (config.json with model_type "tessera")')
    .requiredOption('--format <format>', exportFormats.join(' | '))
    .requiredOption('--out <dir>', 'output folder')
    .action((o: { model: string; format: string; out: string }) => {
      const keys = runExport(o);
      console.log(JSON.stringify({ out: o.out, format: o.format, tensors: keys.length }));
    });

  program.command('init-tessera')
    .description('write a tiny randomly initialised tessera checkpoint (vision + audio, small BPE tokenizer)')
    .requiredOption('--out <dir>', 'output folder')
    .option('--seed <n>', 'initialisation seed', '0')
    .option('--std <x>', 'std of weight matrices', '0.1')
    .option('--jitter <x>', 'std of noise added to norms and biases', '0.1')
    .action((o: { out: string; seed: string; std: string; jitter: string }) => {
      const t = tinyTessera(number('seed', o.seed), {}, { std: number('std', o.std), jitter: number('jitter', o.jitter) });
      saveTessera(o.out, t.model, t.processor);
      console.log(JSON.stringify({ out: o.out, parameters: t.model.numParameters() }));
    });
}
