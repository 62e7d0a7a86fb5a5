// `npm start`: serves the embedded default model once it exists; until then says what is missing and exits 0.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../util/paths.ts';
import { describeBackend } from '../../backend/select.ts';

export async function start(): Promise<void> {
  const modelDir = join(repoRoot, 'models/tessera-demo');
  const b = await describeBackend();
  console.log(`tessera: compute backend ${b.name} (${b.threads} thread${b.threads === 1 ? '' : 's'})`);
  if (!existsSync(join(modelDir, 'config.json'))) {
    console.log('tessera: the embedded default model (models/tessera-demo) is not trained and shipped yet, and the');
    console.log('server is not built yet (see the open issues on training and serving). Nothing to serve; exiting.');
    console.log('What works today: `npx tessera info`, `npx tessera forward|generate|tokenize --model DIR ...` on');
    console.log('Hugging Face checkpoints, and `npm test`.');
    return;
  }
  console.log(`tessera: found ${modelDir}, but the server is not built yet; exiting.`);
}
