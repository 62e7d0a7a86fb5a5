// A stage's encoded samples kept in a few flat arrays instead of ~10 small objects each. The training loop's
// memory comes back through full garbage collections (wasm storage is freed when its tensor is collected), and
// each one marks every live object: with the demo's 24.5k instruct samples as objects a full collection took
// ~41 ms, against ~16 ms with 800 samples — about 12 ms of every instruct step. Kept flat, the samples are a
// dozen objects; `at(i)` makes sample i again (ids and labels as arrays, media as views of the flat storage).

import type { EncodedSample } from '../models/tessera/processor.ts';
import type { SampleSet } from './loop.ts';

export class PackedSamples implements SampleSet<EncodedSample> {
  private constructor(
    readonly length: number,
    private readonly names: string,
    private readonly nameEnd: Int32Array, // [n] end of sample i's id in `names`
    private readonly ids: Int32Array, // every sample's input ids, then labels at the same offsets
    private readonly labels: Int32Array,
    private readonly tokenEnd: Int32Array, // [n]
    private readonly pixels: Float32Array, // [images, imageSize]
    private readonly imageEnd: Int32Array, // [n] end of sample i's images, counted in images
    private readonly imageSize: number,
    private readonly audio: Float32Array, // [audios, audioSize]
    private readonly audioLengths: Int32Array, // [audios]
    private readonly audioEnd: Int32Array, // [n]
    private readonly audioSize: number,
  ) {}

  static pack(samples: readonly EncodedSample[]): PackedSamples {
    const n = samples.length;
    const size = (kind: string, arrays: Float32Array[]): number => {
      const s = arrays[0]?.length ?? 0;
      if (arrays.some((a) => a.length !== s)) throw new Error(`PackedSamples: ${kind} of different sizes (${s} and ${arrays.find((a) => a.length !== s)!.length} values)`);
      return s;
    };
    const images = samples.flatMap((s) => s.pixelValues), audios = samples.flatMap((s) => s.audioFeatures);
    const imageSize = size('images', images), audioSize = size('audio features', audios);
    const nameEnd = new Int32Array(n), tokenEnd = new Int32Array(n), imageEnd = new Int32Array(n), audioEnd = new Int32Array(n);
    const tokens = samples.reduce((t, s) => t + s.inputIds.length, 0);
    const ids = new Int32Array(tokens), labels = new Int32Array(tokens);
    const pixels = new Float32Array(images.length * imageSize), audio = new Float32Array(audios.length * audioSize);
    const audioLengths = new Int32Array(audios.length);
    let names = '', t = 0, im = 0, au = 0;
    samples.forEach((s, i) => {
      if (s.labels.length !== s.inputIds.length) throw new Error(`PackedSamples: sample ${s.id} has ${s.labels.length} labels for ${s.inputIds.length} ids`);
      if (s.audioLengths.length !== s.audioFeatures.length) throw new Error(`PackedSamples: sample ${s.id} has ${s.audioLengths.length} audio lengths for ${s.audioFeatures.length} audios`);
      names += s.id;
      nameEnd[i] = names.length;
      ids.set(s.inputIds, t);
      labels.set(s.labels, t);
      tokenEnd[i] = t += s.inputIds.length;
      for (const p of s.pixelValues) pixels.set(p, imageSize * im++);
      imageEnd[i] = im;
      s.audioFeatures.forEach((f, k) => { audio.set(f, audioSize * au); audioLengths[au++] = s.audioLengths[k]!; });
      audioEnd[i] = au;
    });
    return new PackedSamples(n, names, nameEnd, ids, labels, tokenEnd, pixels, imageEnd, imageSize, audio, audioLengths, audioEnd, audioSize);
  }

  at(i: number): EncodedSample | undefined {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) return undefined;
    const from = (end: Int32Array) => (i === 0 ? 0 : end[i - 1]!);
    const t0 = from(this.tokenEnd), t1 = this.tokenEnd[i]!;
    const media = (data: Float32Array, size: number, a: number, b: number) =>
      Array.from({ length: b - a }, (_, k) => data.subarray((a + k) * size, (a + k + 1) * size));
    const a0 = from(this.audioEnd), a1 = this.audioEnd[i]!;
    return {
      id: this.names.slice(from(this.nameEnd), this.nameEnd[i]),
      inputIds: Array.from(this.ids.subarray(t0, t1)),
      labels: Array.from(this.labels.subarray(t0, t1)),
      pixelValues: media(this.pixels, this.imageSize, from(this.imageEnd), this.imageEnd[i]!),
      audioFeatures: media(this.audio, this.audioSize, a0, a1),
      audioLengths: Array.from(this.audioLengths.subarray(a0, a1)),
    };
  }
}
