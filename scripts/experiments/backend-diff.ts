// Issue 5: the tiny model's logits and image-dependence on one batch, to compare backends
// (TESSERA_BACKEND=reference vs the default). Prints a checksum of the logits and |logits(A) − logits(blank)|.
import { initBackend } from '../../src/backend/select.ts';
import { tinyTessera } from '../../src/models/tessera/tiny.ts';
import { loadJsonl } from '../../src/train/dataset.ts';
import { noGrad } from '../../src/tensor/index.ts';
const be = await initBackend();
const { model, processor } = tinyTessera(0, {}, { std: 0.1, jitter: 0.1 });
const { samples } = await loadJsonl(process.argv[2] ?? '/tmp/st-sq24/data-400/data.jsonl', (r, d) => processor.encodeRecord(r, d, { maxLength: 512 }), { onBadRecord: 'fail', limit: 2 });
const b = processor.collate(samples, { padSide: 'right' });
const blank = { ...b, pixelValues: b.pixelValues!.mul(0).add(1) };
noGrad(() => {
  const a = model.forward(b).logits.toFloat32Array(), z = model.forward(blank).logits.toFloat32Array();
  const V = model.config.text.vocabSize, T = b.inputIds.shape[1]!;
  const per = Array.from({ length: T }, (_, t) => Math.max(...Array.from({ length: V }, (_, v) => Math.abs(a[t * V + v]! - z[t * V + v]!))));
  const ids = b.inputIds.toList().slice(0, T);
  const firstImg = ids.indexOf(processor.imageTokenId);
  console.log(be.name, 'sum', a.reduce((s, v) => s + v, 0).toFixed(4), 'T', T, 'first image token', firstImg);
  console.log('max |A-blank| per position:', per.map((x) => x.toExponential(1)).join(' '));
});
