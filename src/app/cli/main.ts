// The `tessera` command line. Each family of subcommands lives in ./commands/ and registers itself here.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { repoRoot } from '../../util/paths.ts';
import { describeBackend, initBackend } from '../../backend/select.ts';

// `tessera ... | head` closes the pipe early; that is the reader's choice, not an error
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };

const program = new Command()
  .name('tessera')
  .description('Multimodal LLMs in TypeScript: train, run and serve models that see, hear, read and act')
  .version(pkg.version);

program.command('info')
  .description('version, the compute backend in use, and threads')
  .option('--json', 'print as JSON')
  .action(async (opts: { json?: boolean }) => {
    const b = await describeBackend();
    const info = { version: pkg.version, node: process.version, backend: b.name, threads: b.threads, detail: b.detail, available: b.available, note: b.note };
    if (opts.json) console.log(JSON.stringify(info));
    else {
      console.log(`tessera ${info.version} (node ${info.node})`);
      console.log(`backend: ${info.backend} (${info.threads} thread${info.threads === 1 ? '' : 's'})${info.detail ? ` — ${info.detail}` : ''}`);
      console.log(`available: ${info.available.join(', ')}`);
      if (info.note) console.log(info.note);
    }
  });

program.command('start')
  .description('the main job on the embedded default model (what `npm start` runs)')
  .action(async () => {
    const { start } = await import('./start.ts');
    await start();
  });

const registrations: [string, string][] = [
  ['./commands/model.ts', 'registerModelCommands'],
  ['./commands/data.ts', 'registerDataCommands'],
  ['./commands/train.ts', 'registerTrainCommands'],
  ['./commands/export.ts', 'registerExportCommands'],
  ['./commands/serve.ts', 'registerServeCommands'],
  ['./commands/chat.ts', 'registerChatCommands'],
];
for (const [file, fn] of registrations) {
  try {
    const mod = (await import(file)) as Record<string, unknown>;
    const register = mod[fn];
    if (typeof register === 'function') (register as (p: Command) => void)(program);
  } catch (e) {
    // a command family that is not there yet is skipped; any other failure is real
    if ((e as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND' || !String((e as Error).message).includes(file.slice(2))) throw e;
  }
}

// Compute commands run on the fastest backend available here (TESSERA_BACKEND forces one).
const light = new Set(['info', 'tokenize', 'detokenize', 'help', '--help', '-h', '--version', '-V', 'data']);
if (!light.has(process.argv[2] ?? 'help')) await initBackend();

await program.parseAsync(process.argv);
