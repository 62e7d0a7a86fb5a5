// Kosmos-2 processor parity with transformers on fixtures/hf/kosmos-2: input_ids, attention_mask,
// image_embeds_position_mask (exact) and pixel_values (atol 1e-5) for the two images and prompts; and every value of
// meta.grounding: tag / patch token ids, tokenization and decoding of grounded texts, box ↔ patch-index conversions,
// preprocess with bboxes, clean_text_and_extract_entities_with_bboxes and post_process_generation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readMeta, readTensors } from '../../io/hf/fixture.ts';
import { hfFixture } from '../../util/paths.ts';
import { decodeImage } from '../vision/preprocess/decode.ts';
import {
  bboxToPatchIndices, cleanTextAndExtractEntitiesWithBboxes, extractEntitiesWithPatchIndices, insertPatchIndexTokens,
  Kosmos2Processor, patchIndexToCoordinate, postProcessGeneration, type PhraseBoxes,
} from './kosmos2.ts';

const dir = hfFixture('kosmos-2');

interface Grounding {
  tag_token_ids: Record<string, number>;
  patch_index_0000_id: number;
  patch_index_1023_id: number;
  prompts: string[];
  'processed_prompts (preprocess_examples)': string[];
  tokenization: { text: string; ids: number[]; tokens: string[]; decoded: string; decoded_skip_special_tokens: string }[];
  bbox_to_patch_index_tokens: { bbox: number[]; num_patches_per_side: number; ul_idx: number; lr_idx: number; tokens: string[] }[];
  patch_index_to_coordinate: { ul_idx: number; lr_idx: number; num_patches_per_side: number; bbox: number[] }[];
  preprocess_with_bboxes: { text: string; bboxes: PhraseBoxes[]; output: string };
  clean_text_and_extract_entities_with_bboxes: { text: string; clean_text: string; entities: unknown[]; entities_with_patch_indices: unknown[] }[];
  post_process_generation: { text: string; clean_text: string; entities: unknown[] }[];
  generated: { decoded_skip_special_tokens: string; post_process_generation: [string, unknown[]] };
}

const grounding = (): Grounding => readMeta(dir!).grounding as Grounding;

test('Kosmos-2 processor builds the fixture batch', { skip: dir === null }, async () => {
  const io = readTensors(join(dir!, 'io.safetensors'));
  const g = grounding();
  const proc = Kosmos2Processor.fromDir(dir!);
  const images = await Promise.all(['image1.png', 'image2.png'].map((f) => decodeImage(join(dir!, f))));
  const Q = io.get('image_embeds')!.shape[1]!;
  assert.deepEqual(g.prompts.map((p) => proc.prompt(p, Q)), g['processed_prompts (preprocess_examples)']);
  const b = proc.process(g.prompts, images, { numImageTokens: Q });
  assert.deepEqual(b.inputIds.flat(), io.get('input_ids')!.toList(), 'input_ids');
  assert.deepEqual(b.attentionMask.flat(), io.get('attention_mask')!.toList(), 'attention_mask');
  assert.deepEqual(b.imageEmbedsPositionMask.flat(), io.get('image_embeds_position_mask')!.toList(), 'image_embeds_position_mask');
  const ref = io.get('pixel_values')!.toFloat64();
  assert.deepEqual(b.pixelValues.shape, io.get('pixel_values')!.shape);
  let d = 0;
  b.pixelValues.data.forEach((v, i) => { d = Math.max(d, Math.abs(v - ref[i]!)); });
  console.log(`kosmos-2 pixel_values: maxdiff ${d.toExponential(2)} (atol 1e-5)`);
  assert.ok(d <= 1e-5);
  assert.throws(() => proc.process(g.prompts, images.slice(0, 1), { numImageTokens: Q }), /2 texts but 1 images/);
});

test('Kosmos-2 tokenizer: grounding tokens, lstrip, ids and decoding as transformers', { skip: dir === null }, () => {
  const g = grounding();
  const proc = Kosmos2Processor.fromDir(dir!);
  for (const [tok, id] of Object.entries(g.tag_token_ids)) assert.equal(proc.tokenizer.tokenToId(tok), id, tok);
  assert.equal(proc.tokenizer.tokenToId('<patch_index_0000>'), g.patch_index_0000_id);
  assert.equal(proc.tokenizer.tokenToId('<patch_index_1023>'), g.patch_index_1023_id);
  for (const t of g.tokenization) {
    const e = proc.tokenizer.encode(t.text, { addSpecialTokens: false });
    assert.deepEqual(e.ids, t.ids, t.text);
    assert.deepEqual(e.tokens, t.tokens, t.text);
    assert.equal(proc.decode(t.ids), t.decoded, `decode ${t.text}`);
    assert.equal(proc.decode(t.ids, true), t.decoded_skip_special_tokens, `decode(skip) ${t.text}`);
  }
  // A space before a tag is absorbed (lstrip), so these tokenize alike.
  assert.deepEqual(proc.tokenizer.encode('a <phrase>', { addSpecialTokens: false }).ids, proc.tokenizer.encode('a<phrase>', { addSpecialTokens: false }).ids);
});

test('Kosmos-2 grounding: box ↔ patch indices and preprocess with bboxes', { skip: dir === null }, () => {
  const g = grounding();
  for (const c of g.bbox_to_patch_index_tokens) {
    assert.deepEqual(bboxToPatchIndices(c.bbox, c.num_patches_per_side), [c.ul_idx, c.lr_idx], JSON.stringify(c.bbox));
  }
  for (const c of g.patch_index_to_coordinate) assert.deepEqual(patchIndexToCoordinate(c.ul_idx, c.lr_idx, c.num_patches_per_side), c.bbox);
  const p = g.preprocess_with_bboxes;
  assert.equal(insertPatchIndexTokens(p.text, p.bboxes, 1024), p.output);
  assert.throws(() => insertPatchIndexTokens(p.text, p.bboxes.slice(1), 1024), /3 <phrase> spans but 2 bbox entries/);
});

test('Kosmos-2 grounding: entity extraction and post_process_generation', { skip: dir === null }, () => {
  const g = grounding();
  for (const c of g.clean_text_and_extract_entities_with_bboxes) {
    assert.deepEqual(extractEntitiesWithPatchIndices(c.text), c.entities_with_patch_indices, c.text);
    const r = cleanTextAndExtractEntitiesWithBboxes(c.text);
    assert.equal(r.text, c.clean_text);
    assert.deepEqual(r.entities, c.entities, c.text);
  }
  for (const c of g.post_process_generation) {
    const r = postProcessGeneration(c.text);
    assert.equal(r.text, c.clean_text);
    assert.deepEqual(r.entities, c.entities);
  }
  const proc = Kosmos2Processor.fromDir(dir!);
  const seq = readTensors(join(dir!, 'io.safetensors')).get('gen_sequences')!.toList();
  const text = proc.decode(seq, true);
  assert.equal(text, g.generated.decoded_skip_special_tokens);
  const r = postProcessGeneration(text);
  assert.deepEqual([r.text, r.entities], g.generated.post_process_generation);
});
