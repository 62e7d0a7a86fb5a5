// Preference pairs for DPO, one per supervised record: the prompt turns (everything before the final gpt
// answer, so `tool` pairs include the call and the tool's result), the right answer as `chosen`, and the
// generator's wrong answer as `rejected`: hallucinations for vqa-exist (`yes` for an absent object) and
// caption (an absent object added), wrong attributes/counts/letters/boxes/digits elsewhere.
import type { Sample, Turn } from './sample.ts';
import type { TaskName } from './vocab.ts';

export interface PreferenceRecord {
  readonly id: string;
  readonly task: TaskName;
  readonly image?: string;
  readonly audio?: string;
  readonly conversations: readonly Turn[];
  readonly chosen: string;
  readonly rejected: string;
}

export function preferenceRecord(record: { readonly id: string; readonly image?: string; readonly audio?: string; readonly conversations: readonly Turn[] }, sample: Sample): PreferenceRecord {
  const prompt = record.conversations.slice(0, -1);
  const last = record.conversations[record.conversations.length - 1];
  if (!last || last.from !== 'gpt' || last.value !== sample.answer) throw new Error(`prefs: record ${record.id} does not end with its answer`);
  return {
    id: record.id,
    task: sample.task,
    ...(record.image ? { image: record.image } : {}),
    ...(record.audio ? { audio: record.audio } : {}),
    conversations: prompt,
    chosen: sample.answer,
    rejected: sample.rejected,
  };
}
