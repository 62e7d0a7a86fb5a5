// A tiny random tessera model with its own small tokenizer, for tests, the HF export check and smoke runs: the
// tokenizer is byte-level BPE trained (bpe-train.ts) on a few task-card sentences, so it has every special token
// of a real tessera tokenizer (`<image>`, `<audio>`, ChatML, tool-call markers) at a small vocabulary.

import { chatmlTemplate } from '../../data/tokenizer/chatml.ts';
import { buildTokenizerConfig, trainByteLevelBpe } from '../../data/tokenizer/bpe-train.ts';
import type { TokenizerConfig } from '../../data/tokenizer/tokenizer.ts';
import { tesseraConfigFromSizes, type TesseraSizes } from './config.ts';
import { initTessera, type InitOptions } from './checkpoint.ts';
import type { TesseraModel } from './model.ts';
import { TesseraProcessor } from './processor.ts';

const corpus = [
  'Describe the image. a red circle, a blue square and an orange triangle',
  'What color is the circle? red green blue yellow purple orange',
  'What shape is the green object? circle square triangle',
  'How many squares are there? 1 2 3 4 5 6 7 8 9 0',
  'Is the red circle to the left or right of the blue square? left right',
  'Is there a yellow triangle in the image? yes no',
  'What does the text say? ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  'What is the value of bar A? Which bar is the tallest? B C D E',
  'Where is the purple circle? Answer with a box. [12, 40, 33, 61]',
  'Transcribe the audio. zero one two three four five six seven eight nine',
  'What number is spoken? How many beeps are there?',
  'Is the second tone higher or lower than the first? higher lower',
  'Is the spoken number equal to the number of circles?',
  'What is the sum of all bar values? Use the calculator. {"name": "calculator", "arguments": {"expression": "3+7+2"}}',
  'You are a helpful multimodal assistant. system user assistant tool_response',
];

export interface TinyTessera {
  model: TesseraModel;
  processor: TesseraProcessor;
  config: Record<string, unknown>;
}

/** A tiny model + processor. `sizes` overrides the test-sized defaults (vision 32 px / patch 8, audio 3 s). */
export function tinyTessera(seed = 0, sizes: Partial<TesseraSizes> = {}, init: InitOptions = { std: 0.1, jitter: 0.1 }): TinyTessera {
  const tokenizerJson = trainByteLevelBpe({ texts: corpus, vocabSize: 400, minFrequency: 2 });
  const ids = new Map(tokenizerJson.added_tokens.map((t) => [t.content, t.id]));
  const vocabSize = Math.max(...tokenizerJson.added_tokens.map((t) => t.id)) + 1;
  const config = tesseraConfigFromSizes({
    vocabSize, imageTokenId: ids.get('<image>')!, audioTokenId: ids.get('<audio>')!,
    audio: { melBins: 16, dModel: 32, layers: 2, heads: 4, seconds: 3 }, ...sizes,
  });
  const model = initTessera(config, seed, init);
  const tokenizerConfig = buildTokenizerConfig(tokenizerJson, { chatTemplate: chatmlTemplate }) as TokenizerConfig;
  const processor = TesseraProcessor.forModel(model.config, tokenizerJson as unknown as Record<string, unknown>, tokenizerConfig);
  return { model, processor, config };
}
