// One stage of tessera training from its config: load the tessera model and processor, optionally wrap the
// LLM's Linear layers with LoRA, read and encode the data mix (bad records reported, skipped or fatal), build
// the stage's objective — next-token loss on packed text (pretrain-text), attribute prediction for the encoders
// (pretrain-vision/-audio), next-token loss on the assistant tokens of multimodal conversations (align,
// instruct), or DPO against the frozen starting weights (dpo) — run the loop, and save the trained model
// (adapters merged) as `<run>/model`, ready to be the next stage's `model`.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { loadTessera, saveTessera } from '../models/tessera/checkpoint.ts';
import type { TesseraBatch, TesseraModel } from '../models/tessera/model.ts';
import type { EncodedSample, TesseraProcessor } from '../models/tessera/processor.ts';
import { getBackend } from '../backend/registry.ts';
import { formatSummary, loadJsonl, textOf, type OnBadRecord, type RecordEncoder } from './dataset.ts';
import { dpoObjective, type PreferencePair } from './dpo.ts';
import { AttributeModel, attributeEncoder, attributeObjective, freshImagePaths, freshImageSamples, isFreshImages, readScenes } from './encoder-pretrain.ts';
import { EncodeThread, specEncoder, type EncodeSpec } from './encode-thread.ts';
import { EncodedFiles } from './encoded-files.ts';
import { applyLora, mergeLora } from './lora.ts';
import { PackedSamples } from './packed.ts';
import { trainLoop, type LoopResult, type SampleSet, type Source } from './loop.ts';
import { countTargets, languageModelObjective, lmLossSum, packDocuments, type Objective } from './objective.ts';
import type { StageConfig } from './stages.ts';

/** Stages with fewer records than this encode them on one thread. */
const THREAD_MIN_RECORDS = 256;

/** A data path that names samples drawn during training instead of a file: `generate:shapes`. */
export const GENERATE = 'generate:';

export interface RunStageOptions {
  stage: StageConfig;
  /** Run directory: checkpoints/, metrics.jsonl, loss.png, model/. */
  outDir: string;
  /** The model to start from; default stage.model. */
  modelDir?: string;
  /** Folder that relative data/model paths of the stage are resolved against (the config file's folder). */
  baseDir?: string;
  resume?: boolean;
  onBadRecord?: OnBadRecord;
  quiet?: boolean;
  /** Encode conversation / preference records on a second thread too: default when there are two or more threads
   *  and THREAD_MIN_RECORDS records; true tries it whatever the count (tests), false never does. */
  encodeThread?: boolean;
  /** Conversation files kept encoded between stages (a recipe run passes one store to every stage). */
  encodedFiles?: EncodedFiles;
}

export interface RunStageResult extends LoopResult {
  modelDir: string;
  /** Threads that encoded the stage's records (2 with the encoding thread). */
  encodeThreads: number;
}

export async function runStage(o: RunStageOptions): Promise<RunStageResult> {
  const { stage } = o;
  const base = o.baseDir ?? process.cwd();
  const at = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const from = o.modelDir ?? (stage.model ? at(stage.model) : null);
  if (!from) throw new Error(`stage ${stage.name}: no model to start from (give "model" in the stage config or --model)`);
  const { model, processor } = loadTessera(from);
  model.train();
  if (stage.lora) applyLora(model, { ...stage.lora, seed: stage.seed });
  mkdirSync(o.outDir, { recursive: true });
  writeFileSync(join(o.outDir, 'stage.json'), `${JSON.stringify({ ...stage, model: from }, null, 2)}\n`);
  const onBadRecord = o.onBadRecord ?? 'skip';
  const log = (s: string) => { if (!o.quiet) process.stderr.write(`${s}\n`); };

  // A stage's records as its sources: `post` maps each file's samples, `keep` stores a train file's samples (flat:
  // PackedSamples), `generated` makes the samples of a `generate:<kind>` path (drawn during training, never read
  // from disk); with `spec` (conversations, preference pairs) and two or more threads, a worker encodes two thirds
  // of the records (encode-thread.ts).
  let encodeThreads = 1;
  async function sources<S>(encode: RecordEncoder<S>, how: { post?: (s: S[]) => S[]; generated?: (kind: string) => SampleSet<S>; spec?: EncodeSpec;
    keep?: (s: S[]) => SampleSet<S>; kept?: Kept | undefined } = {}): Promise<{ train: Source<S>[]; evalSamples: S[] }> {
    const { spec, kept } = how;
    let thread: EncodeThread<S> | null = null;
    const wanted = o.encodeThread ?? (getBackend().threads >= 2 && recordCount() >= THREAD_MIN_RECORDS);
    if (spec && wanted) {
      try {
        thread = await EncodeThread.start<S>(spec);
        encodeThreads = 2;
      } catch (e) {
        log(`stage ${stage.name}: encoding on one thread (${(e as Error).message})`);
      }
    }
    // samples that read one image file share its pixels from the start: PackedSamples keeps them once, and until
    // then the copies would be every record's (the demo's refresh stage: ~14 GB for 77.5k records of ~17k images)
    const seen = new Map<string, Float32Array>();
    // files kept from an earlier stage lend their pixels first, so an image they share with this stage's new files is held once
    for (const d of stage.data) {
      for (const [f, px] of kept?.store.get(at(d.path), kept.settings)?.samples.imageFiles() ?? []) if (!seen.has(f)) seen.set(f, px);
    }
    const shared = (e: RecordEncoder<S>): RecordEncoder<S> => async (r, dir) => sharePixels(await e(r, dir), seen);
    const helper = thread ? shared((r: unknown, dir: string) => thread.encode(r, dir)) : undefined;
    try {
      return await readSources(spec ? shared(encode) : encode, how.post ?? ((x) => x), how.keep ?? ((x) => x), how.generated, helper, kept);
    } finally {
      await thread?.close();
    }
  }

  // lines of the stage's data files (a worker takes ~1 s to load its processor: not worth it for a few records)
  function recordCount(): number {
    const paths = [...stage.data.map((d) => d.path).filter((p) => !p.startsWith(GENERATE)), ...(stage.evalData ? [stage.evalData] : [])];
    return paths.reduce((n, p) => {
      try {
        return n + readFileSync(at(p), 'utf8').split('\n').length;
      } catch {
        return n; // loadJsonl reports the unreadable file
      }
    }, 0);
  }

  async function readSources<S>(encode: RecordEncoder<S>, post: (s: S[]) => S[], keep: (s: S[]) => SampleSet<S>, generated: ((kind: string) => SampleSet<S>) | undefined,
    helper: RecordEncoder<S> | undefined, kept: Kept | undefined): Promise<{ train: Source<S>[]; evalSamples: S[] }> {
    const train: Source<S>[] = [];
    for (const d of stage.data) {
      if (d.path.startsWith(GENERATE)) {
        const kind = d.path.slice(GENERATE.length);
        if (!generated) throw new Error(`stage ${stage.name}: data "${d.path}": ${stage.kind} stages read files; only pretrain-vision draws its data (${freshImagePaths.join(', ')})`);
        train.push({ name: d.path, samples: generated(kind), weight: d.weight });
        continue;
      }
      const earlier = kept?.store.get(at(d.path), kept.settings);
      if (earlier) {
        log(`${formatSummary(earlier.summary)} (encoded by an earlier stage)`);
        train.push({ name: d.path, samples: earlier.samples as unknown as SampleSet<S>, weight: d.weight });
        continue;
      }
      const { samples, summary } = await loadJsonl(at(d.path), encode, { onBadRecord, helper });
      log(formatSummary(summary));
      const set = keep(post(samples));
      if (kept && set instanceof PackedSamples) kept.store.set(at(d.path), kept.settings, { samples: set, summary });
      train.push({ name: d.path, samples: set, weight: d.weight });
    }
    let evalSamples: S[] = [];
    if (stage.evalData) {
      const r = await loadJsonl(at(stage.evalData), encode, { onBadRecord, limit: stage.evalLimit, helper });
      log(formatSummary(r.summary));
      evalSamples = post(r.samples);
    }
    return { train, evalSamples };
  }

  const loop = <S, B>(objective: Objective<S, B>, data: { train: Source<S>[]; evalSamples: S[] }) =>
    trainLoop({ objective, stage, sources: data.train, evalSamples: data.evalSamples, runDir: o.outDir, resume: o.resume ?? false, quiet: o.quiet ?? false });

  let result: LoopResult;
  switch (stage.kind) {
    case 'pretrain-text': {
      const ids = (r: unknown) => Promise.resolve(processor.tokenizer.encodeIds(textOf(r), { addSpecialTokens: false }));
      const toSamples = (docs: number[][]) => stage.packing
        ? packDocuments(docs, stage.maxLength, processor.eosTokenId)
        : docs.map((d) => d.slice(0, stage.maxLength)).map((d) => ({ ids: d, labels: d.slice() }));
      const data = await sources(ids);
      const packed = { train: data.train.map((s) => ({ ...s, samples: toSamples(s.samples as number[][]) })), evalSamples: toSamples(data.evalSamples) };
      const objective = languageModelObjective(model, (b) => model.llm.forward({ inputIds: b.inputIds, attentionMask: b.attentionMask }).logits, processor.padTokenId);
      result = await loop(objective, packed);
      break;
    }
    case 'align':
    case 'instruct': {
      const spec: EncodeSpec = { modelDir: from, kind: 'conversation', maxLength: stage.maxLength };
      const kept = o.encodedFiles ? { store: o.encodedFiles, settings: EncodedFiles.settings(from, `${spec.kind} ${spec.maxLength} ${onBadRecord}`) } : undefined;
      const data = await sources(specEncoder(processor, spec) as RecordEncoder<EncodedSample>, { spec, keep: (s) => PackedSamples.pack(s), kept });
      if (stage.keepTowerOutputs) model.cacheFrozenVisionFeatures();
      result = await loop(conversationObjective(model, processor), data);
      break;
    }
    case 'dpo': {
      // reference: 'frozen-initial' — the weights this stage starts from, loaded again and never trained
      const reference = loadTessera(from).model.freeze().eval();
      if (stage.keepTowerOutputs) {
        reference.cacheFrozenVisionFeatures();
        model.cacheFrozenVisionFeatures();
      }
      const spec: EncodeSpec = { modelDir: from, kind: 'preference', maxLength: stage.maxLength };
      const data = await sources(specEncoder(processor, spec) as RecordEncoder<PreferencePair<EncodedSample>>, { spec });
      const dpo = stage.dpo ?? { beta: 0.1, labelSmoothing: 0 };
      const objective = dpoObjective<EncodedSample, TesseraBatch>({
        policy: model, beta: dpo.beta, labelSmoothing: dpo.labelSmoothing,
        collate: (s) => processor.collate(s, { padSide: 'right' }),
        policyLogits: (b) => model.forward(b).logits,
        referenceLogits: (b) => reference.forward(b).logits,
        labels: (b) => { if (!b.labels) throw new Error('dpo: a preference batch has no answer tokens'); return b.labels; },
        tokens: (b) => b.attentionMask.toList().reduce((n, v) => n + v, 0),
      });
      result = await loop(objective, data);
      break;
    }
    case 'pretrain-vision':
    case 'pretrain-audio': {
      const modality = stage.kind === 'pretrain-vision' ? 'image' : 'audio';
      const wrapper = new AttributeModel(model, modality, stage.seed);
      const scenes = new Map<string, ReturnType<typeof readScenes>>();
      const fresh = (kind: string) => {
        if (modality !== 'image' || !isFreshImages(kind)) throw new Error(`stage ${stage.name}: cannot draw "${GENERATE}${kind}" (a pretrain-vision stage draws ${freshImagePaths.join(', ')})`);
        return freshImageSamples(kind, processor, patchGrid(model), stage.seed, stage.steps * stage.batchSize * stage.gradAccum);
      };
      const data = await sources((r, dir) => {
        if (!scenes.has(dir)) scenes.set(dir, readScenes(join(dir, 'data.jsonl')));
        return attributeEncoder(modality, processor, scenes.get(dir)!, patchGrid(model))(r, dir);
      }, { generated: fresh });
      // the attribute head always trains, at the stage's highest learning rate
      const headLr = Math.max(...Object.values(stage.lr));
      const withHead = { ...stage, trainable: [...stage.trainable, 'attributeHead'], lr: { ...stage.lr, attributeHead: headLr } };
      result = await trainLoop({ objective: attributeObjective(wrapper), stage: withHead, sources: data.train, evalSamples: data.evalSamples,
        runDir: o.outDir, resume: o.resume ?? false, quiet: o.quiet ?? false });
      break;
    }
  }
  if (stage.lora) mergeLora(model);
  const modelDir = join(o.outDir, 'model');
  saveTessera(modelDir, model, processor);
  log(`${stage.name}: model saved to ${modelDir}`);
  return { ...result, modelDir, encodeThreads };
}

/** Where a stage finds files an earlier stage encoded, and what they must have been encoded under. */
interface Kept {
  store: EncodedFiles;
  settings: string;
}

/** `v` (a sample or a preference pair) with each image read from a file replaced by the first pixels seen for it. */
export function sharePixels<S>(v: S, seen: Map<string, Float32Array>): S {
  const one = (s: Partial<EncodedSample> | undefined) => {
    s?.imageFiles?.forEach((f, k) => {
      const kept = seen.get(f);
      if (kept) s.pixelValues![k] = kept;
      else seen.set(f, s.pixelValues![k]!);
    });
  };
  const x = v as Partial<EncodedSample> & Partial<PreferencePair<EncodedSample>>;
  one(x);
  one(x.chosen);
  one(x.rejected);
  return v;
}

/** The vision tower's patch grid side (image size / patch size), 0 without a vision tower. */
function patchGrid(model: TesseraModel): number {
  const v = model.config.vision;
  return v ? v.vit.imageSize / v.vit.patchSize : 0;
}

/** Next-token loss on the labelled (assistant) tokens of encoded conversations, media spliced by the model. */
export function conversationObjective(model: TesseraModel, processor: TesseraProcessor): Objective<EncodedSample, TesseraBatch> {
  return {
    model,
    collate: (s) => processor.collate(s, { padSide: 'right' }),
    units: (b) => (b.labels ? countTargets(b.labels) : 0),
    tokens: (b) => b.attentionMask.toList().reduce((n, v) => n + v, 0),
    lossSum: (b) => ({ loss: lmLossSum(model.forward(b).logits, b.labels!) }),
  };
}
