// Conversation files kept encoded from one stage of a recipe run to the next (run-recipe.ts hands one store to
// every stage). The demo recipe reads where.jsonl in four stages, bars.jsonl in three and boxes.jsonl in two, and
// its refresh stage reads every instruct file again; encoding them anew (chat template, tokenizer, pixels) cost
// each of those stages one to two minutes beyond its steps. A file is known by its path, size and modification
// time, the processor's files and the stage's length limit, so a changed file or processor is encoded again.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadSummary } from './dataset.ts';
import type { PackedSamples } from './packed.ts';

export interface KeptFile {
  samples: PackedSamples;
  summary: LoadSummary;
}

/** The files of a model folder that decide how a record is encoded (the weights do not). */
const PROCESSOR_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja', 'preprocessor_config.json'];

export class EncodedFiles {
  private readonly files = new Map<string, KeptFile & { key: string }>();

  /** What a file's encoding depends on besides the file: the processor in `modelDir` and `extra` (the stage's settings). */
  static settings(modelDir: string, extra: string): string {
    const h = createHash('sha1');
    for (const f of PROCESSOR_FILES) {
      const p = join(modelDir, f);
      h.update(`${f}\0`);
      if (existsSync(p)) h.update(readFileSync(p));
    }
    return h.update(`\0${extra}`).digest('hex');
  }

  /** The file at `path` as encoded under `settings`, if kept and unchanged since. */
  get(path: string, settings: string): KeptFile | null {
    const kept = this.files.get(path);
    return kept && kept.key === fileKey(path, settings) ? kept : null;
  }

  set(path: string, settings: string, kept: KeptFile): void {
    const key = fileKey(path, settings);
    if (key) this.files.set(path, { ...kept, key });
  }

  /** Forget every file but `paths` (those a later stage reads). */
  retain(paths: ReadonlySet<string>): void {
    for (const p of [...this.files.keys()]) if (!paths.has(p)) this.files.delete(p);
  }

  get size(): number {
    return this.files.size;
  }
}

function fileKey(path: string, settings: string): string | null {
  try {
    const s = statSync(path);
    return `${s.size}:${s.mtimeMs}:${settings}`;
  } catch {
    return null; // unreadable: the loader names the error
  }
}
