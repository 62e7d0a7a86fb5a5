// `tessera chat`: talk to a checkpoint from the terminal through the same ChatEngine the server uses.
//   tessera chat --model DIR [--image PATH ...] [--audio PATH ...] [--system TEXT] [--max-tokens N]
//                [--temperature T] [--seed N] [--verbose] [-i] [PROMPT]
// With a PROMPT it answers once (streamed to stdout) and exits; without one (or with -i) it reads lines from
// stdin as a conversation with history. Interactive commands: /image PATH and /audio PATH attach media to the
// next message, /reset forgets the conversation, /exit (or end of input) quits, /help lists them. Ctrl-C stops
// a running answer; a second Ctrl-C when idle quits. Answers go to stdout, everything else to stderr.

import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import type { ChatEngine, ChatRequest, EngineMessage, MediaPart } from '../../../infer/engine.ts';
import type { SamplingOptions } from '../../../infer/sampler.ts';

interface ChatFlags {
  model: string; image: string[]; audio: string[]; system?: string; maxTokens?: string; temperature?: string;
  seed?: string; verbose?: boolean; interactive?: boolean;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

function numberFlag(name: string, v: string | undefined, min: number, max: number, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new Error(`--${name} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return n;
}

/** A media file as an engine part; the audio format is named by the extension (anything not WAV goes to ffmpeg). */
export function mediaPart(kind: 'image' | 'audio', path: string): MediaPart {
  let data: Uint8Array;
  try {
    data = readFileSync(path);
  } catch (e) {
    throw new Error(`${kind} ${path}: cannot read it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (kind === 'image') return { type: 'image', data };
  return { type: 'audio', data, format: extname(path).slice(1).toLowerCase() || 'wav' };
}

interface Session {
  engine: ChatEngine;
  base: Omit<ChatRequest, 'messages'>;
  verbose: boolean;
}

/** Streams one answer to stdout; returns its text, or null when it failed (the error is on stderr). */
async function answer(s: Session, messages: EngineMessage[], signal?: AbortSignal): Promise<string | null> {
  try {
    const r = await s.engine.chat({ ...s.base, messages }, (d) => process.stdout.write(d), signal);
    process.stdout.write('\n');
    for (const call of r.toolCalls ?? []) process.stderr.write(`[tool call] ${call.function.name} ${call.function.arguments}\n`);
    if (s.verbose) process.stderr.write(`[${r.usage.promptTokens} prompt tokens, ${r.usage.completionTokens} completion tokens, ${r.finishReason}]\n`);
    return r.text;
  } catch (e) {
    if ((e as Error).name === 'ChatAbortedError') { process.stdout.write('\n'); process.stderr.write('[stopped]\n'); return ''; }
    process.stderr.write(`tessera chat: ${(e as Error).message}\n`);
    return null;
  }
}

const help = '/image PATH  attach an image to the next message\n/audio PATH  attach an audio file\n/reset       start a new conversation\n/exit        quit\n';

/** The conversation loop; `first.history` holds an exchange already answered (`-i` with a PROMPT). */
async function interactive(s: Session, first: { system?: string; media: MediaPart[]; history?: EngineMessage[] }): Promise<void> {
  const tty = process.stdin.isTTY === true;
  const rl = createInterface({ input: process.stdin, output: tty ? process.stderr : undefined, terminal: tty });
  const start = (): EngineMessage[] => (first.system ? [{ role: 'system', content: first.system }] : []);
  let history = [...start(), ...(first.history ?? [])];
  let pending = [...first.media];
  let running: AbortController | null = null;
  rl.on('SIGINT', () => {
    if (running) running.abort();
    else rl.close();
  });
  if (tty) process.stderr.write(`tessera chat with ${s.engine.modelId}. /help for commands.\n`);
  const prompt = (): void => { if (tty) rl.prompt(); };
  rl.setPrompt(pending.length ? `(${pending.length} attached) > ` : '> ');
  prompt();
  for await (const raw of rl) {
    const line = raw.trim();
    const command = /^\/(\w+)\s*(.*)$/.exec(line);
    if (command) {
      const [, name, arg] = command as unknown as [string, string, string];
      if (name === 'exit' || name === 'quit') break;
      if (name === 'help') process.stderr.write(help);
      else if (name === 'reset') { history = start(); pending = []; process.stderr.write('[new conversation]\n'); }
      else if ((name === 'image' || name === 'audio') && arg) {
        try {
          pending.push(mediaPart(name, arg));
          process.stderr.write(`[${name} ${arg} attached]\n`);
        } catch (e) {
          process.stderr.write(`tessera chat: ${(e as Error).message}\n`);
        }
      } else process.stderr.write(`tessera chat: unknown command ${line}\n${help}`);
    } else if (line || pending.length) {
      const content: MediaPart[] = [...pending, ...(line ? [{ type: 'text' as const, text: line }] : [])];
      const turn: EngineMessage = { role: 'user', content };
      running = new AbortController();
      const text = await answer(s, [...history, turn], running.signal);
      running = null;
      if (text !== null) {
        history.push(turn, { role: 'assistant', content: text });
        pending = [];
      }
    }
    rl.setPrompt(pending.length ? `(${pending.length} attached) > ` : '> ');
    prompt();
  }
  rl.close();
}

/** The command itself; errors thrown here are reported as one line by the action. */
async function run(prompt: string | undefined, flags: ChatFlags): Promise<void> {
  const sampling: SamplingOptions = {};
  const temperature = numberFlag('temperature', flags.temperature, 0, 100, false);
  const seed = numberFlag('seed', flags.seed, 0, 2 ** 32 - 1, true);
  const maxTokens = numberFlag('max-tokens', flags.maxTokens, 1, 1_000_000, true);
  if (temperature !== undefined) sampling.temperature = temperature;
  if (seed !== undefined) sampling.seed = seed;
  const media = [...flags.image.map((p) => mediaPart('image', p)), ...flags.audio.map((p) => mediaPart('audio', p))];
  const { createEngine } = await import('../../../infer/engine.ts');
  const engine = await createEngine(flags.model);
  const s: Session = { engine, base: { sampling, ...(maxTokens !== undefined ? { maxTokens } : {}) }, verbose: flags.verbose === true };
  const system: EngineMessage[] = flags.system ? [{ role: 'system', content: flags.system }] : [];
  const systemOpt = flags.system ? { system: flags.system } : {};
  if (prompt === undefined) return interactive(s, { ...systemOpt, media });
  const turn: EngineMessage = { role: 'user', content: [...media, { type: 'text', text: prompt }] };
  const text = await answer(s, [...system, turn]);
  if (text === null) process.exitCode = 1;
  if (flags.interactive) {
    await interactive(s, { ...systemOpt, media: [], history: text === null ? [] : [turn, { role: 'assistant', content: text }] });
  }
}

export function registerChatCommands(program: Command): void {
  program
    .command('chat')
    .description('chat with a model from the terminal: one answer for PROMPT, or an interactive conversation (/image, /audio, /reset, /exit)')
    .argument('[prompt]', 'the question; without it, read a conversation from stdin')
    .requiredOption('--model <dir>', 'checkpoint folder (text decoder, tessera or llava)')
    .option('--image <path>', 'attach an image (repeatable)', collect, [])
    .option('--audio <path>', 'attach an audio file: wav, or mp3/ogg/flac/… through ffmpeg (repeatable)', collect, [])
    .option('--system <text>', 'system prompt')
    .option('--max-tokens <n>', 'longest answer in tokens (default 256)')
    .option('--temperature <t>', 'sampling temperature; 0 is greedy (default 1)')
    .option('--seed <n>', 'sampling seed')
    .option('--verbose', 'print token counts to stderr')
    .option('-i, --interactive', 'keep chatting after answering PROMPT')
    .action(async (prompt: string | undefined, flags: ChatFlags) => {
      try {
        await run(prompt, flags);
      } catch (e) {
        // bad flags, unreadable media, a checkpoint that does not load: one line, not a stack trace
        process.stderr.write(`tessera chat: ${(e as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
