// The cross-modal and tool tasks. cross-count pairs an image of 1–6 circles with one spoken digit 1–6 and
// asks whether they agree (yes for even indices, no for odd: balanced in any run). tool shows a bar chart and
// asks for the sum; the first gpt turn is a calculator call, recorded as
//   {"from":"gpt","value":"","tool_calls":[{"name":"calculator","arguments":{"expression":"3+7+2"}}]}
// (values in bar order), then {"from":"tool","value":"12"}, then {"from":"gpt","value":"12"}.
import type { Rng } from './prng.ts';
import { drawValues, renderChart } from './chart.ts';
import { renderShapes } from './draw.ts';
import { placeShapesOrThrow } from './layout.ts';
import { plainSample } from './sample.ts';
import type { Sample, ToolCall } from './sample.ts';
import { speak } from './speech.ts';
import { COLORS, DIGIT_WORDS } from './vocab.ts';
import type { Split } from './vocab.ts';

export async function crossCount(rng: Rng, split: Split, index: number, tmpDir: string, tag: string): Promise<Sample> {
  const yes = index % 2 === 0;
  const count = rng.int(1, 6);
  let spoken = count;
  while (!yes && spoken === count) spoken = rng.int(1, 6);
  const pairs = Array.from({ length: count }, () => ({ color: rng.pick(COLORS), shape: 'circle' as const }));
  const circles = placeShapesOrThrow(rng, pairs, { maxSize: count > 4 ? 28 : 40 });
  const image = renderShapes(rng, circles);
  const u = await speak(rng, split, [DIGIT_WORDS[spoken]!], tmpDir, tag);
  return plainSample('cross-count', 'Is the spoken number equal to the number of circles?', yes ? 'yes' : 'no', yes ? 'no' : 'yes', { kind: 'cross', circles, speech: u.scene }, { image, audio: u.wav });
}

export function calculatorCall(values: readonly number[]): ToolCall {
  return { name: 'calculator', arguments: { expression: values.join('+') } };
}

export function tool(rng: Rng, split: Split): Sample {
  const values = drawValues(rng, false);
  const { png, scene } = renderChart(rng, split, values);
  const sum = String(values.reduce((a, v) => a + v, 0));
  // The rejected final answer ignores the tool's result by one: the model must copy what the tool said.
  const wrong = String(Number(sum) + (rng.bool() ? 1 : -1));
  const base = plainSample('tool', 'What is the sum of all bar values? Use the calculator.', sum, wrong, scene, { image: png });
  return {
    ...base,
    reply: [
      { from: 'gpt', value: '', tool_calls: [calculatorCall(values)] },
      { from: 'tool', value: sum },
      { from: 'gpt', value: sum },
    ],
  };
}
