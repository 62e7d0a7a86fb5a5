// CLIP and SigLIP image processors, equal to transformers' PIL backends `CLIPImageProcessorPil`
// and `SiglipImageProcessorPil` (fixtures/hf README item 10): PIL resize (bicubic by default),
// center crop with top = round((h - c) / 2) (Python's round: half to even), x * rescale_factor,
// (x - mean) / std, channels first, float32. CLIP resizes the shortest edge to `size.shortest_edge`
// with the long edge int(s * long / short); SigLIP resizes to `size.height` x `size.width`.
// The torchvision backends (`CLIPImageProcessor` in 5.x) antialias differently (up to 0.015 apart).
import type { RgbImage } from './decode.ts';
import { resizeRgb, type ResampleFilter } from './resize.ts';

/** Pixel values of N images, [N, 3, H, W] row-major. */
export interface PixelValues {
  shape: [number, number, number, number];
  data: Float32Array;
}

type Size = { shortestEdge: number } | { height: number; width: number };

export interface ImageProcessorConfig {
  doResize: boolean;
  size: Size;
  resample: ResampleFilter;
  doCenterCrop: boolean;
  cropSize: { height: number; width: number };
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  imageMean: [number, number, number];
  imageStd: [number, number, number];
}

// PIL.Image.Resampling numbers used in preprocessor_config.json.
const resampleByCode: Readonly<Record<number, ResampleFilter>> = { 2: 'bilinear', 3: 'bicubic', 4: 'box' };

const openaiClipMean: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const openaiClipStd: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

function num(v: unknown, key: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`image processor config: ${key} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function positiveInt(v: unknown, key: string): number {
  const n = num(v, key);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`image processor config: ${key} must be a positive integer, got ${n}`);
  return n;
}

function triple(v: unknown, key: string): [number, number, number] {
  if (typeof v === 'number') return [v, v, v];
  if (!Array.isArray(v) || v.length !== 3) throw new Error(`image processor config: ${key} must be 3 numbers`);
  return [num(v[0], key), num(v[1], key), num(v[2], key)];
}

function parseSize(v: unknown, key: string): Size {
  if (typeof v === 'number') return { height: positiveInt(v, key), width: positiveInt(v, key) };
  const o = (v ?? {}) as Record<string, unknown>;
  if (o.shortest_edge !== undefined) return { shortestEdge: positiveInt(o.shortest_edge, `${key}.shortest_edge`) };
  if (o.height !== undefined || o.width !== undefined) {
    return { height: positiveInt(o.height, `${key}.height`), width: positiveInt(o.width, `${key}.width`) };
  }
  throw new Error(`image processor config: ${key} needs shortest_edge or height/width, got ${JSON.stringify(v)}`);
}

/** Read a preprocessor_config.json object, or the nested `image_processor` of a processor_config.json. */
export function parseImageProcessorConfig(json: unknown, defaults: ImageProcessorConfig): ImageProcessorConfig {
  if (json === null || typeof json !== 'object') throw new Error('image processor config: expected a JSON object');
  let o = json as Record<string, unknown>;
  if (o.image_processor !== undefined && typeof o.image_processor === 'object') o = o.image_processor as Record<string, unknown>;
  const bool = (k: string, d: boolean): boolean => (o[k] === undefined ? d : o[k] === true);
  let resample = defaults.resample;
  if (o.resample !== undefined) {
    const r = resampleByCode[num(o.resample, 'resample')];
    if (r === undefined) throw new Error(`image processor config: resample ${String(o.resample)} is not supported (2 bilinear, 3 bicubic, 4 box)`);
    resample = r;
  }
  const crop = o.crop_size === undefined ? defaults.cropSize : parseSize(o.crop_size, 'crop_size');
  if ('shortestEdge' in crop) throw new Error('image processor config: crop_size needs height and width');
  return {
    doResize: bool('do_resize', defaults.doResize),
    size: o.size === undefined ? defaults.size : parseSize(o.size, 'size'),
    resample,
    doCenterCrop: bool('do_center_crop', defaults.doCenterCrop),
    cropSize: crop,
    doRescale: bool('do_rescale', defaults.doRescale),
    rescaleFactor: o.rescale_factor === undefined ? defaults.rescaleFactor : num(o.rescale_factor, 'rescale_factor'),
    doNormalize: bool('do_normalize', defaults.doNormalize),
    imageMean: o.image_mean === undefined ? defaults.imageMean : triple(o.image_mean, 'image_mean'),
    imageStd: o.image_std === undefined ? defaults.imageStd : triple(o.image_std, 'image_std'),
  };
}

// Python's round(): ties go to the even neighbour.
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d !== 0.5) return Math.round(x);
  return f % 2 === 0 ? f : f + 1;
}

/** Center crop; a crop larger than the image is padded with zeros (as transformers does). */
export function centerCrop(img: RgbImage, height: number, width: number): RgbImage {
  const top = roundHalfEven((img.height - height) / 2);
  const left = roundHalfEven((img.width - width) / 2);
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= img.height) continue;
    for (let x = 0; x < width; x++) {
      const sx = x + left;
      if (sx < 0 || sx >= img.width) continue;
      const s = (sy * img.width + sx) * 3;
      const o = (y * width + x) * 3;
      out[o] = img.data[s]!;
      out[o + 1] = img.data[s + 1]!;
      out[o + 2] = img.data[s + 2]!;
    }
  }
  return { width, height, data: out };
}

export class ImageProcessor {
  readonly config: Readonly<ImageProcessorConfig>;

  constructor(config: ImageProcessorConfig) {
    this.config = Object.freeze({ ...config });
  }

  /** Output (height, width) of the resize step for an input of the given size. */
  resizeTarget(height: number, width: number): { height: number; width: number } {
    const size = this.config.size;
    if (!('shortestEdge' in size)) return size;
    const short = Math.min(height, width);
    const long = Math.max(height, width);
    const newLong = Math.trunc((size.shortestEdge * long) / short);
    return height <= width ? { height: size.shortestEdge, width: newLong } : { height: newLong, width: size.shortestEdge };
  }

  /** One image to [3, H, W] float32. */
  processOne(img: RgbImage): { height: number; width: number; data: Float32Array } {
    const c = this.config;
    let x = img;
    if (c.doResize) {
      const t = this.resizeTarget(x.height, x.width);
      x = resizeRgb(x, t.width, t.height, c.resample);
    }
    if (c.doCenterCrop) x = centerCrop(x, c.cropSize.height, c.cropSize.width);
    const plane = x.width * x.height;
    const out = new Float32Array(3 * plane);
    for (let ch = 0; ch < 3; ch++) {
      const mean = c.doNormalize ? c.imageMean[ch]! : 0;
      const std = c.doNormalize ? c.imageStd[ch]! : 1;
      const scale = c.doRescale ? c.rescaleFactor : 1;
      for (let i = 0; i < plane; i++) out[ch * plane + i] = (x.data[i * 3 + ch]! * scale - mean) / std;
    }
    return { height: x.height, width: x.width, data: out };
  }

  /** A batch to [N, 3, H, W]; all images must come out the same size (true whenever a crop or fixed size is set). */
  process(images: readonly RgbImage[]): PixelValues {
    if (images.length === 0) throw new Error('image processor: no images');
    const outs = images.map((im) => this.processOne(im));
    const { height, width } = outs[0]!;
    outs.forEach((o, i) => {
      if (o.height !== height || o.width !== width) {
        throw new Error(`image processor: image ${i} came out ${o.width}x${o.height}, image 0 ${width}x${height}; cannot batch`);
      }
    });
    const data = new Float32Array(outs.length * 3 * height * width);
    outs.forEach((o, i) => data.set(o.data, i * o.data.length));
    return { shape: [outs.length, 3, height, width], data };
  }
}

/** CLIPImageProcessorPil: shortest-edge resize, center crop, OpenAI CLIP mean/std. */
export class ClipImageProcessor extends ImageProcessor {
  static readonly defaults: ImageProcessorConfig = {
    doResize: true, size: { shortestEdge: 224 }, resample: 'bicubic', doCenterCrop: true,
    cropSize: { height: 224, width: 224 }, doRescale: true, rescaleFactor: 1 / 255, doNormalize: true,
    imageMean: openaiClipMean, imageStd: openaiClipStd,
  };

  static fromConfig(json: unknown): ClipImageProcessor {
    return new ClipImageProcessor(parseImageProcessorConfig(json, ClipImageProcessor.defaults));
  }
}

/** SiglipImageProcessorPil: fixed-size resize, no crop, mean = std = 0.5. */
export class SiglipImageProcessor extends ImageProcessor {
  static readonly defaults: ImageProcessorConfig = {
    doResize: true, size: { height: 224, width: 224 }, resample: 'bicubic', doCenterCrop: false,
    cropSize: { height: 224, width: 224 }, doRescale: true, rescaleFactor: 1 / 255, doNormalize: true,
    imageMean: [0.5, 0.5, 0.5], imageStd: [0.5, 0.5, 0.5],
  };

  static fromConfig(json: unknown): SiglipImageProcessor {
    return new SiglipImageProcessor(parseImageProcessorConfig(json, SiglipImageProcessor.defaults));
  }
}
