// A pretrain-text stage on the tiny tessera model: {"text"} lines are tokenised and packed into full windows
// of maxLength tokens, only the LLM trains, and a bad line is reported by file and line and skipped.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTessera, saveTessera } from '../models/tessera/checkpoint.ts';
import { tinyTessera } from '../models/tessera/tiny.ts';
import { packDocuments } from './objective.ts';
import { readMetrics } from './metrics.ts';
import { runStage } from './run.ts';
import { parseStage } from './stages.ts';

test('packing fills windows exactly, documents separated by eos', () => {
  const w = packDocuments([[1, 2, 3], [4, 5], [6, 7, 8, 9]], 4, 0);
  assert.deepEqual(w.map((s) => s.ids), [[1, 2, 3, 0], [4, 5, 0, 6], [7, 8, 9, 0]]);
  assert.deepEqual(w[0]!.labels, w[0]!.ids);
});

test('pretrain-text trains the LLM only and skips a bad line with its position', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-text-'));
  try {
    const { model, processor } = tinyTessera(0);
    saveTessera(join(dir, 'init'), model, processor);
    const lines = Array.from({ length: 30 }, (_, i) => JSON.stringify({ text: `What color is the circle? ${['red', 'green', 'blue'][i % 3]} circle square triangle` }));
    lines.splice(4, 0, '{"txt": "no text field"}');
    writeFileSync(join(dir, 'text.jsonl'), lines.join('\n'));
    const stage = parseStage({ name: 'text', kind: 'pretrain-text', trainable: ['llm'], lr: { llm: 3e-3 }, data: [{ path: 'text.jsonl' }], steps: 4, batchSize: 4, maxLength: 32 });
    const errs: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => { errs.push(String(s)); return true; }) as typeof process.stderr.write;
    let r;
    try {
      r = await runStage({ stage, outDir: join(dir, 'run'), modelDir: join(dir, 'init'), baseDir: dir, quiet: true });
    } finally { process.stderr.write = write; }
    assert.ok(errs.some((e) => /text\.jsonl:5: text record: "text" must be a non-empty string/.test(e)), errs.join(''));
    const m = readMetrics(join(dir, 'run/metrics.jsonl'));
    assert.equal(m.length, 4);
    assert.ok(m.every((x) => Number.isFinite(x.loss as number)));
    const after = loadTessera(r.modelDir).model;
    for (const [n, p] of after.namedParameters()) {
      const same = Buffer.from(p.toFloat32Array().buffer).equals(Buffer.from(model.stateDict().get(n)!.toFloat32Array().buffer));
      if (!n.startsWith('llm.')) assert.ok(same, `${n} must stay bit-identical`);
    }
    assert.ok(!Buffer.from(after.llm.model.layers[0]!.mlp.up_proj.weight.toFloat32Array().buffer).equals(Buffer.from(model.llm.model.layers[0]!.mlp.up_proj.weight.toFloat32Array().buffer)));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
