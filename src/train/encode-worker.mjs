// The encoding thread's entry (encode-thread.ts): registers tsx's loader, then answers {id, key, spec} by setting
// up an encoder for the spec — with the processor of its model folder, loaded once per distinct set of processor
// files — with {id} or {id, error}, and {id, key, record, baseDir} with {id, value} (media buffers transferred) or
// {id, error}.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { TesseraProcessor } = await import('../models/tessera/processor.ts');
const { specEncoder, buffersOf } = await import('./encode-thread.ts');

const processorFiles = ['tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja', 'preprocessor_config.json'];
const processors = new Map(); // processor files -> processor (a recipe's stages share one)
const encoders = new Map(); // spec key -> encoder

parentPort.on('message', async ({ id, key, spec, record, baseDir }) => {
  try {
    if (spec) {
      const files = processorFiles.map((f) => { try { return readFileSync(join(spec.modelDir, f), 'utf8'); } catch { return ''; } }).join('\0');
      if (!processors.has(files)) processors.set(files, TesseraProcessor.fromDir(spec.modelDir));
      encoders.set(key, specEncoder(processors.get(files), spec));
      parentPort.postMessage({ id });
      return;
    }
    const encode = encoders.get(key);
    if (!encode) throw new Error('encoding thread: no spec set up for this stage');
    const value = await encode(record, baseDir);
    parentPort.postMessage({ id, value }, buffersOf(value));
  } catch (e) {
    parentPort.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
  }
});
