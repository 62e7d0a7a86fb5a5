// PIL-exact resampling of 8-bit RGB images: a re-implementation of Pillow's ImagingResample
// (src/libImaging/Resample.c) for the 8-bit path, so `resizeBicubic` equals
// `Image.resize((w, h), Image.BICUBIC)` byte for byte.
// The method: separable, horizontal pass first (only over the rows the vertical pass will read),
// then vertical, each clipped to uint8 in between. When downscaling, the filter support is
// stretched by the scale factor (antialiasing). Weights are normalised to sum 1, then turned into
// fixed point with PRECISION_BITS = 22, rounded half away from zero; the accumulator starts at
// 1 << 21 (rounding) and the result is shifted right and clipped to [0, 255].
import type { RgbImage } from './decode.ts';

const precisionBits = 32 - 8 - 2;

export type ResampleFilter = 'bicubic' | 'bilinear' | 'box';

interface Filter {
  support: number;
  weight(x: number): number;
}

const filters: Readonly<Record<ResampleFilter, Filter>> = {
  bicubic: {
    support: 2,
    // Keys' cubic convolution with a = -0.5.
    weight(x) {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  bilinear: {
    support: 1,
    weight(x) {
      x = Math.abs(x);
      return x < 1 ? 1 - x : 0;
    },
  },
  box: {
    support: 0.5,
    weight(x) {
      return x > -0.5 && x <= 0.5 ? 1 : 0;
    },
  },
};

/** Per output pixel: first input index, count, and fixed-point weights (ksize per pixel). */
interface Coefficients {
  ksize: number;
  first: Int32Array;
  count: Int32Array;
  weights: Int32Array;
}

// Pillow's precompute_coeffs + normalize_coeffs_8bpc, for the box [0, inSize).
function coefficients(inSize: number, outSize: number, filter: Filter): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const invScale = 1 / filterScale; // Pillow multiplies by the reciprocal; dividing could differ in the last bit
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C casts truncate toward zero.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let sum = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.weight((x + xmin - center + 0.5) * invScale);
      k[x] = w;
      sum += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = sum !== 0 ? k[x]! / sum : k[x]!;
      const fixed = w * (1 << precisionBits);
      weights[xx * ksize + x] = Math.trunc(w < 0 ? fixed - 0.5 : fixed + 0.5);
    }
    first[xx] = xmin;
    count[xx] = xmax;
  }
  return { ksize, first, count, weights };
}

function clip8(acc: number): number {
  const v = acc >> precisionBits; // arithmetic shift: floor division, as in C on int
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Resize RGB to `width`x`height` exactly as Pillow's `Image.resize(size, filter)` (no box, no reducing_gap). */
export function resizeRgb(img: RgbImage, width: number, height: number, filter: ResampleFilter = 'bicubic'): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`resize: bad target size ${width}x${height}`);
  }
  if (width === img.width && height === img.height) return { width, height, data: img.data.slice() };
  const f = filters[filter];
  const vert = coefficients(img.height, height, f);
  const rowFirst = vert.first[0]!;
  const rowLast = vert.first[height - 1]! + vert.count[height - 1]!;

  // Horizontal pass over the rows [rowFirst, rowLast) only (Pillow's ybox_first/ybox_last).
  let src = img.data;
  let srcWidth = img.width;
  let rowOffset = 0;
  if (width !== img.width) {
    const horiz = coefficients(img.width, width, f);
    const rows = rowLast - rowFirst;
    const tmp = new Uint8Array(width * rows * 3);
    for (let y = 0; y < rows; y++) {
      const inRow = (y + rowFirst) * img.width * 3;
      for (let xx = 0; xx < width; xx++) {
        const x0 = horiz.first[xx]!;
        const n = horiz.count[xx]!;
        const kb = xx * horiz.ksize;
        let r = 1 << (precisionBits - 1);
        let g = r;
        let b = r;
        for (let x = 0; x < n; x++) {
          const w = horiz.weights[kb + x]!;
          const p = inRow + (x0 + x) * 3;
          r += src[p]! * w;
          g += src[p + 1]! * w;
          b += src[p + 2]! * w;
        }
        const o = (y * width + xx) * 3;
        tmp[o] = clip8(r);
        tmp[o + 1] = clip8(g);
        tmp[o + 2] = clip8(b);
      }
    }
    src = tmp;
    srcWidth = width;
    rowOffset = rowFirst;
  }
  if (height === img.height) return { width, height, data: src };

  // Vertical pass.
  const out = new Uint8Array(width * height * 3);
  for (let yy = 0; yy < height; yy++) {
    const y0 = vert.first[yy]! - rowOffset;
    const n = vert.count[yy]!;
    const kb = yy * vert.ksize;
    for (let xx = 0; xx < width; xx++) {
      let r = 1 << (precisionBits - 1);
      let g = r;
      let b = r;
      for (let y = 0; y < n; y++) {
        const w = vert.weights[kb + y]!;
        const p = ((y0 + y) * srcWidth + xx) * 3;
        r += src[p]! * w;
        g += src[p + 1]! * w;
        b += src[p + 2]! * w;
      }
      const o = (yy * width + xx) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return { width, height, data: out };
}
