// `npm start`: serves the embedded default model (models/tessera-demo) with the web chat, on
// http://127.0.0.1:8080 (PORT and HOST override). Without the model it says what is missing and exits 0.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../util/paths.ts';
import { describeBackend } from '../../backend/select.ts';

export async function start(): Promise<void> {
  const modelDir = join(repoRoot, 'models/tessera-demo');
  const b = await describeBackend();
  console.log(`tessera: compute backend ${b.name} (${b.threads} thread${b.threads === 1 ? '' : 's'})`);
  if (!existsSync(join(modelDir, 'config.json'))) {
    console.log('tessera: the embedded default model (models/tessera-demo) is not in this checkout; train it with');
    console.log('`npm run train:demo`, or serve any checkpoint with `npx tessera serve --model DIR`. Exiting.');
    return;
  }
  const { createEngine } = await import('../../infer/engine.ts');
  const { startServer, installSignalHandlers } = await import('../../serve/server.ts');
  const engine = await createEngine(modelDir, { modelId: 'tessera-demo' });
  const port = Number(process.env.PORT ?? 8080);
  const server = await startServer({ engine, port, host: process.env.HOST ?? '127.0.0.1' });
  installSignalHandlers(server);
  console.log(`tessera: serving tessera-demo — web chat at ${server.url}/ , OpenAI API at ${server.url}/v1 , Ollama API at ${server.url}/api`);
  console.log('tessera: press Ctrl-C to stop');
}
