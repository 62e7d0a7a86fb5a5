// `tessera serve`: the OpenAI/Ollama-compatible HTTP server over one checkpoint folder.
//   tessera serve --model DIR [--port 8080] [--host 127.0.0.1] [--api-key KEY] [--max-waiting 8] [--max-tokens 256]
// The key can also come from TESSERA_API_KEY (so it stays out of the process list).
import type { Command } from 'commander';

function intOption(name: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n < min || n > max) throw new Error(`--${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return n;
}

interface ServeFlags { model: string; port: string; host: string; apiKey?: string; maxWaiting: string; maxTokens: string }

export function registerServeCommands(program: Command): void {
  program
    .command('serve')
    .description('serve a model over HTTP: OpenAI /v1/chat/completions, /v1/embeddings, /v1/models; Ollama /api/chat, /api/tags')
    .requiredOption('--model <dir>', 'checkpoint folder (config.json, model.safetensors, tokenizer.json)')
    .option('--port <port>', 'TCP port (0 picks a free one)', '8080')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--api-key <key>', 'require Authorization: Bearer <key> (default: $TESSERA_API_KEY, else none)')
    .option('--max-waiting <n>', 'requests that may queue behind the running one; more get 429', '8')
    .option('--max-tokens <n>', 'default max_tokens of a reply', '256')
    .action(async (flags: ServeFlags) => {
      const port = intOption('port', flags.port, 0, 65535);
      const maxWaiting = intOption('max-waiting', flags.maxWaiting, 0, 10_000);
      const defaultMaxTokens = intOption('max-tokens', flags.maxTokens, 1, 1_000_000);
      const apiKey = flags.apiKey ?? process.env.TESSERA_API_KEY;
      const { createEngine } = await import('../../../infer/engine.ts');
      const { startServer, installSignalHandlers } = await import('../../../serve/server.ts');
      const engine = await createEngine(flags.model, { defaultMaxTokens });
      const server = await startServer({ engine, port, host: flags.host, maxWaiting, ...(apiKey ? { apiKey } : {}) });
      installSignalHandlers(server);
      console.log(`tessera serve: model ${engine.modelId} at ${server.url}/v1 (OpenAI) and ${server.url}/api (Ollama)${apiKey ? ', API key required' : ''}`);
    });
}
