// A stage's encoded samples kept in a few flat arrays instead of ~10 small objects each. The training loop's
// memory comes back through full garbage collections (wasm storage is freed when its tensor is collected), and
// each one marks every live object: with the demo's 24.5k instruct samples as objects a full collection took
// ~41 ms, against ~16 ms with 800 samples — about 12 ms of every instruct step. Kept flat, the samples are a
// dozen objects and one array per distinct image; `at(i)` makes sample i again (ids and labels as arrays, audio as
// views of the flat storage, images as the kept arrays).
//
// Images are kept by reference, once per pixel array and once per image file (`imageFiles`): the demo's where, bar
// and box questions ask many questions of each training image, and its refresh stage's 77.5k records hold ~17k
// images (13.7 GB of float pixels as copies, 3.4 GB kept once). A stage's files share the arrays (run.ts
// sharePixels), so an image several files ask about is held once for the stage.

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
    private readonly pixels: readonly Float32Array[], // [distinct images] each [imageSize]
    private readonly imageIndex: Int32Array, // [images of all samples] index in `pixels`
    private readonly imageEnd: Int32Array, // [n] end of sample i's images in imageIndex
    private readonly imageFile: readonly string[], // [distinct images] the file it came from, '' if none
    private readonly withFiles: Uint8Array, // [n] 1 if sample i named its image files
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
    size('images', images);
    const audioSize = size('audio features', audios);
    // one entry per distinct image file, and per distinct array among images not read from a file
    const rowOf = new Map<string | Float32Array, number>(), pixels: Float32Array[] = [], imageFile: string[] = [];
    const imageIndex = new Int32Array(images.length);
    let im = 0;
    for (const s of samples) {
      if (s.imageFiles && s.imageFiles.length !== s.pixelValues.length) throw new Error(`PackedSamples: sample ${s.id} names ${s.imageFiles.length} image files for ${s.pixelValues.length} images`);
      s.pixelValues.forEach((p, k) => {
        const key = s.imageFiles?.[k] || p;
        let row = rowOf.get(key);
        if (row === undefined) {
          rowOf.set(key, row = pixels.length);
          pixels.push(p);
          imageFile.push(s.imageFiles?.[k] ?? '');
        }
        imageIndex[im++] = row;
      });
    }
    const nameEnd = new Int32Array(n), tokenEnd = new Int32Array(n), imageEnd = new Int32Array(n), audioEnd = new Int32Array(n);
    const withFiles = new Uint8Array(n);
    const tokens = samples.reduce((t, s) => t + s.inputIds.length, 0);
    const ids = new Int32Array(tokens), labels = new Int32Array(tokens);
    const audio = new Float32Array(audios.length * audioSize);
    const audioLengths = new Int32Array(audios.length);
    let names = '', t = 0, au = 0;
    im = 0;
    samples.forEach((s, i) => {
      if (s.labels.length !== s.inputIds.length) throw new Error(`PackedSamples: sample ${s.id} has ${s.labels.length} labels for ${s.inputIds.length} ids`);
      if (s.audioLengths.length !== s.audioFeatures.length) throw new Error(`PackedSamples: sample ${s.id} has ${s.audioLengths.length} audio lengths for ${s.audioFeatures.length} audios`);
      names += s.id;
      nameEnd[i] = names.length;
      ids.set(s.inputIds, t);
      labels.set(s.labels, t);
      tokenEnd[i] = t += s.inputIds.length;
      imageEnd[i] = im += s.pixelValues.length;
      withFiles[i] = s.imageFiles ? 1 : 0;
      s.audioFeatures.forEach((f, k) => { audio.set(f, audioSize * au); audioLengths[au++] = s.audioLengths[k]!; });
      audioEnd[i] = au;
    });
    return new PackedSamples(n, names, nameEnd, ids, labels, tokenEnd, pixels, imageIndex, imageEnd, imageFile, withFiles, audio, audioLengths, audioEnd, audioSize);
  }

  /** The kept pixels of each image read from a file, by file (what run.ts sharePixels shares). */
  *imageFiles(): IterableIterator<[string, Float32Array]> {
    for (let i = 0; i < this.imageFile.length; i++) if (this.imageFile[i]) yield [this.imageFile[i]!, this.pixels[i]!];
  }

  /** Distinct images kept (images read from one file, or given as one array, count once). */
  get distinctImages(): number {
    return this.imageFile.length;
  }

  at(i: number): EncodedSample | undefined {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) return undefined;
    const from = (end: Int32Array) => (i === 0 ? 0 : end[i - 1]!);
    const t0 = from(this.tokenEnd), t1 = this.tokenEnd[i]!;
    const rows = Array.from(this.imageIndex.subarray(from(this.imageEnd), this.imageEnd[i]!));
    const a0 = from(this.audioEnd), a1 = this.audioEnd[i]!;
    const size = this.audioSize;
    return {
      id: this.names.slice(from(this.nameEnd), this.nameEnd[i]),
      inputIds: Array.from(this.ids.subarray(t0, t1)),
      labels: Array.from(this.labels.subarray(t0, t1)),
      pixelValues: rows.map((r) => this.pixels[r]!),
      audioFeatures: Array.from({ length: a1 - a0 }, (_, k) => this.audio.subarray((a0 + k) * size, (a0 + k + 1) * size)),
      audioLengths: Array.from(this.audioLengths.subarray(a0, a1)),
      ...(this.withFiles[i] ? { imageFiles: rows.map((r) => this.imageFile[r]!) } : {}),
    };
  }
}
