// asr-digits and audio-number: 1–3 digit words spoken with pauses (speech.ts). The transcript is the words in
// lower case; the number is the digits joined, a leading zero kept (`zero five` → `05`).
import type { Rng } from './prng.ts';
import { plainSample } from './sample.ts';
import type { Sample } from './sample.ts';
import { speak } from './speech.ts';
import { DIGIT_WORDS } from './vocab.ts';
import type { Split } from './vocab.ts';

export function drawDigits(rng: Rng): number[] {
  return Array.from({ length: rng.int(1, 3) }, () => rng.int(0, 9));
}

/** One digit changed: the near-miss hearing used as the rejected answer. */
function mutateDigits(rng: Rng, digits: readonly number[]): number[] {
  const i = rng.int(0, digits.length - 1);
  const out = digits.slice();
  out[i] = (digits[i]! + rng.int(1, 9)) % 10;
  return out;
}

const words = (ds: readonly number[]) => ds.map((d) => DIGIT_WORDS[d]!);

export async function asrDigits(rng: Rng, split: Split, tmpDir: string, tag: string): Promise<Sample> {
  const digits = drawDigits(rng);
  const u = await speak(rng, split, words(digits), tmpDir, tag);
  return plainSample('asr-digits', 'Transcribe the audio.', words(digits).join(' '), words(mutateDigits(rng, digits)).join(' '), u.scene, { audio: u.wav });
}

export async function audioNumber(rng: Rng, split: Split, tmpDir: string, tag: string): Promise<Sample> {
  const digits = drawDigits(rng);
  const u = await speak(rng, split, words(digits), tmpDir, tag);
  return plainSample('audio-number', 'What number is spoken?', digits.join(''), mutateDigits(rng, digits).join(''), u.scene, { audio: u.wav });
}
