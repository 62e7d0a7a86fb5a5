// `tessera forward | tokenize | detokenize | generate`: run a checkpoint folder (config.json + safetensors) on
// named tensors, under their transformers names, and tokenize with its tokenizer.json.
//   tessera forward    --model DIR --inputs IO.safetensors --out OUT.safetensors [--grads]
//   tessera tokenize   --model DIR [--no-special] TEXT          → [ids]
//   tessera detokenize --model DIR [--skip-special] '[ids]'     → "text"
//   tessera generate   --model DIR --inputs IO.safetensors --max-new-tokens N   → [[ids of row 0], …]
import type { Command } from 'commander';
import { Tokenizer } from '../../../data/tokenizer/tokenizer.ts';
import { readTensors } from '../../../io/hf/fixture.ts';
import { writeSafetensors, type TensorData } from '../../../io/safetensors.ts';
import { loadModel, type NamedTensors } from '../../../models/registry.ts';
import { noGrad, type Tensor } from '../../../tensor/index.ts';

const f32 = (t: Tensor): TensorData => ({ dtype: 'float32', shape: [...t.shape], data: t.toFloat32Array() });

/** Writes `logits` (and `loss` with labels; with `grads`, each parameter's gradient under its checkpoint key). */
export async function runForward(opts: { model: string; inputs: string; out: string; grads?: boolean }): Promise<string[]> {
  const model = await loadModel(opts.model);
  const inputs: NamedTensors = readTensors(opts.inputs);
  if (opts.grads && !inputs.has('labels')) throw new Error(`--grads needs "labels" in ${opts.inputs} (the loss to differentiate)`);
  const outputs = opts.grads ? model.forward(inputs) : noGrad(() => model.forward(inputs));
  const tensors: Record<string, TensorData> = {};
  for (const [name, t] of outputs) tensors[name] = f32(t);
  if (opts.grads) {
    const loss = outputs.get('loss');
    if (!loss) throw new Error(`${opts.model}: the model returned no loss for these inputs`);
    model.module.zeroGrad();
    loss.backward();
    for (const [name, p] of model.module.namedParameters()) if (p.grad) tensors[model.checkpointKey(name)] = f32(p.grad);
  }
  writeSafetensors(opts.out, tensors);
  return Object.keys(tensors);
}

export function tokenize(dir: string, text: string, special = true): number[] {
  return Tokenizer.fromFile(dir).encodeIds(text, { addSpecialTokens: special });
}

export function parseIds(text: string): number[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error(`ids must be a JSON array of integers, got ${JSON.stringify(text)}`);
  }
  if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x) && x >= 0)) throw new Error(`ids must be a JSON array of non-negative integers, got ${text}`);
  return v as number[];
}

export function detokenize(dir: string, ids: readonly number[], skipSpecial = false): string {
  return Tokenizer.fromFile(dir).decode(ids, { skipSpecialTokens: skipSpecial });
}

/** Greedy continuation (new ids) of every row. */
export async function runGenerate(opts: { model: string; inputs: string; maxNewTokens: number }): Promise<number[][]> {
  const model = await loadModel(opts.model);
  if (!model.generate) throw new Error(`${opts.model}: model_type "${model.modelType}" does not generate text`);
  return model.generate(readTensors(opts.inputs), opts.maxNewTokens);
}

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

export function registerModelCommands(program: Command): void {
  program.command('forward')
    .description('run a model folder on named inputs; write logits (and loss, gradients) to safetensors')
    .requiredOption('--model <dir>', 'folder with config.json and model.safetensors')
    .requiredOption('--inputs <file>', 'safetensors with input_ids, attention_mask, pixel_values, labels, …')
    .requiredOption('--out <file>', 'output safetensors')
    .option('--grads', 'also write d(loss)/d(param) under the checkpoint keys (needs labels)', false)
    .action(async (o: { model: string; inputs: string; out: string; grads: boolean }) => {
      const names = await runForward(o);
      console.log(JSON.stringify({ out: o.out, tensors: names.length }));
    });

  program.command('tokenize')
    .description('print the token ids of TEXT as a JSON array')
    .requiredOption('--model <dir>', 'folder with tokenizer.json (+ tokenizer_config.json)')
    .option('--no-special', 'do not add special tokens (bos, template)')
    .argument('<text>')
    .action((text: string, o: { model: string; special: boolean }) => {
      console.log(JSON.stringify(tokenize(o.model, text, o.special)));
    });

  program.command('detokenize')
    .description('print the text of a JSON array of ids (as a JSON string)')
    .requiredOption('--model <dir>', 'folder with tokenizer.json (+ tokenizer_config.json)')
    .option('--skip-special', 'drop special tokens', false)
    .argument('<ids>')
    .action((ids: string, o: { model: string; skipSpecial: boolean }) => {
      console.log(JSON.stringify(detokenize(o.model, parseIds(ids), o.skipSpecial)));
    });

  program.command('generate')
    .description('greedy continuation of each row of input_ids (left padding via attention_mask), as JSON')
    .requiredOption('--model <dir>', 'folder with config.json and model.safetensors')
    .requiredOption('--inputs <file>', 'safetensors with input_ids (+ attention_mask, pixel_values)')
    .requiredOption('--max-new-tokens <n>', 'tokens to generate per row')
    .action(async (o: { model: string; inputs: string; maxNewTokens: string }) => {
      console.log(JSON.stringify(await runGenerate({ model: o.model, inputs: o.inputs, maxNewTokens: positiveInt('max-new-tokens', o.maxNewTokens) })));
    });
}
