// Writes test/fixtures/bpe/: the tokenizer trained on corpus.txt (ours/), and the strings the cross-check encodes.
// Run: node --import tsx scripts/make-bpe-fixture.ts   then   .venv/bin/python scripts/bpe_crosscheck.py
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainByteLevelBpe, writeTokenizerJson } from '../src/data/tokenizer/bpe-train.ts';
import { chatmlTemplate } from '../src/data/tokenizer/chatml.ts';
import { repoRoot } from '../src/util/paths.ts';

export const fixtureDir = join(repoRoot, 'test/fixtures/bpe');
/** Training settings shared by this script, the cross-check and the tests. */
export const fixtureSettings = { vocabSize: 600, minFrequency: 2 } as const;

/** One sequence per line, each keeping its newline, so both trainers see the same words. */
export function corpusLines(text: string): string[] {
  return text.split(/(?<=\n)/).filter((l) => l.length > 0);
}

export const testStrings: readonly string[] = [
  'The quick brown fox jumps over the lazy dog.',
  "It's what we'd've said, isn't it? THEY'LL know. I'M sure.",
  'Numbers 1234567890 and 3.14159, -42, 1e-9, 0x1F.',
  'def f(x):\n    return x ** 2  # square\n',
  'const y = a?.b ?? [1, 2, 3].map((v) => v * 2);',
  '\tindented\twith tabs\n\n\nand blank lines\r\nand CRLF\r\n',
  '   leading and trailing spaces   ',
  '机器学习是人工智能的一个分支。',
  '这是一个全新的句子，里面有没见过的字：龘靐齉。',
  '日本語と한국어とРусский текст.',
  'Emoji 😀🎉👍🏽❤️🐱🇫🇷 and family 👨‍👩‍👧‍👦',
  'Unseen: 🦀🦕🧬 ẞ ǅ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ทดสอบ ᚠᛇᚻ',
  'Control chars \u0001\u0002\u007f and NBSP\u00a0here, ZWJ\u200d, BOM\ufeff.',
  'Café naïve façade Ångström São Paulo',
  '∑ᵢ xᵢ² ≤ ∞ and √2 ≈ 1.414',
  '{"name": "get_weather", "arguments": {"city": "Paris"}}',
  '<|im_start|>user\nWhat is in <image> and <audio>?<|im_end|>\n<|im_start|>assistant\n',
  '<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call><|endoftext|>',
  'x',
  '',
  ' ',
  '\n',
  'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  'https://example.org/path?q=1&r=two#frag user.name+tag@example.com',
];

async function main(): Promise<void> {
  const corpus = readFileSync(join(fixtureDir, 'corpus.txt'), 'utf8');
  const json = trainByteLevelBpe({ texts: corpusLines(corpus), ...fixtureSettings });
  await writeTokenizerJson(join(fixtureDir, 'ours'), json, { chatTemplate: chatmlTemplate });
  writeFileSync(join(fixtureDir, 'strings.json'), JSON.stringify(testStrings, null, 1) + '\n');
  console.log(`vocab ${Object.keys(json.model.vocab).length} + ${json.added_tokens.length} added, ${json.model.merges.length} merges`);
}

// Tests import the settings above; only a direct run writes files.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
