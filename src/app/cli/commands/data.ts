// `tessera data …`: generating the synthetic training data of shared/tasks/SYNTHETIC_TASKS.md.
//   tessera data synth --out DIR --tasks LIST|all --n N --seed S [--split train|heldout] [--prefs]
//   tessera data text  --out FILE --lines N --seed S
import type { Command } from 'commander';
import { parseTaskList, synthesize } from '../../../data/synthetic/synthesize.ts';
import { synthesizeTextCorpus } from '../../../data/synthetic/textCorpus.ts';
import type { Split } from '../../../data/synthetic/vocab.ts';

function intOption(name: string, v: string): number {
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) throw new Error(`--${name} must be an integer, got ${JSON.stringify(v)}`);
  return n;
}

function splitOption(v: string): Split {
  if (v !== 'train' && v !== 'heldout') throw new Error(`--split must be train or heldout, got ${JSON.stringify(v)}`);
  return v;
}

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('generate training data');

  data
    .command('synth')
    .description('write synthetic multimodal records (data.jsonl, img/, audio/, meta.jsonl, prefs.jsonl)')
    .requiredOption('--out <dir>', 'output folder')
    .requiredOption('--tasks <list>', 'comma-separated task names, or all')
    .requiredOption('--n <n>', 'records per task')
    .requiredOption('--seed <s>', 'random seed (use different seeds for train and heldout)')
    .option('--split <split>', 'train or heldout', 'train')
    .option('--prefs', 'also write prefs.jsonl (DPO pairs)', false)
    .option('--concurrency <k>', 'records generated at once', '4')
    .action(async (opts: { out: string; tasks: string; n: string; seed: string; split: string; prefs: boolean; concurrency: string }) => {
      const result = await synthesize({
        outDir: opts.out,
        tasks: parseTaskList(opts.tasks),
        n: intOption('n', opts.n),
        seed: intOption('seed', opts.seed),
        split: splitOption(opts.split),
        prefs: opts.prefs,
        concurrency: intOption('concurrency', opts.concurrency),
      });
      for (const s of result.stats) {
        process.stdout.write(`${s.task.padEnd(13)} ${String(s.count).padStart(7)} records  ${(s.count / Math.max(s.seconds, 1e-9)).toFixed(1)} rec/s\n`);
      }
      process.stdout.write(`wrote ${result.records.length} records to ${opts.out}/data.jsonl\n`);
    });

  data
    .command('text')
    .description('write a plain-text pretraining corpus in the task vocabulary')
    .requiredOption('--out <file>', 'output text file')
    .requiredOption('--lines <n>', 'number of lines')
    .requiredOption('--seed <s>', 'random seed')
    .action(async (opts: { out: string; lines: string; seed: string }) => {
      await synthesizeTextCorpus({ outFile: opts.out, nLines: intOption('lines', opts.lines), seed: intOption('seed', opts.seed) });
      process.stdout.write(`wrote ${opts.lines} lines to ${opts.out}\n`);
    });
}
