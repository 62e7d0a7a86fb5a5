// The encoding thread's entry (encode-thread.ts): registers tsx's loader, loads the processor of the spec's model
// folder and answers {id, record, baseDir} with {id, value} (media buffers transferred) or {id, error}.
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { TesseraProcessor } = await import('../models/tessera/processor.ts');
const { specEncoder, buffersOf } = await import('./encode-thread.ts');
const encode = specEncoder(TesseraProcessor.fromDir(workerData.modelDir), workerData);

parentPort.on('message', async ({ id, record, baseDir }) => {
  try {
    const value = await encode(record, baseDir);
    parentPort.postMessage({ id, value }, buffersOf(value));
  } catch (e) {
    parentPort.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
  }
});
parentPort.postMessage({ ready: true });
