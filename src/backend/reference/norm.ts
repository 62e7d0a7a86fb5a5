// Reference row-wise kernels: softmax, log-softmax, LayerNorm and RMSNorm, forward and backward.
// Rows are contiguous runs of `cols` elements. Sums are accumulated in double precision.

import type { Kernels, NormArgs } from '../backend.ts';
import type { FloatStorage } from '../../tensor/dtype.ts';

export const softmax: Kernels['softmax'] = (x, rows, cols, out) => {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (x[o + j]! > max) max = x[o + j]!;
    if (max === -Infinity) max = 0; // an all -inf row gives NaN in torch; keep 0/0 behaviour below
    let sum = 0;
    for (let j = 0; j < cols; j++) { const e = Math.exp(x[o + j]! - max); out[o + j] = e; sum += e; }
    for (let j = 0; j < cols; j++) out[o + j] = out[o + j]! / sum;
  }
};

export const softmaxBackward: Kernels['softmaxBackward'] = (y, gy, rows, cols, out) => {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += y[o + j]! * gy[o + j]!;
    for (let j = 0; j < cols; j++) out[o + j] = y[o + j]! * (gy[o + j]! - dot);
  }
};

export const logSoftmax: Kernels['logSoftmax'] = (x, rows, cols, out) => {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (x[o + j]! > max) max = x[o + j]!;
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(x[o + j]! - max);
    const lse = max + Math.log(sum);
    for (let j = 0; j < cols; j++) out[o + j] = x[o + j]! - lse;
  }
};

export const logSoftmaxBackward: Kernels['logSoftmaxBackward'] = (y, gy, rows, cols, out) => {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += gy[o + j]!;
    for (let j = 0; j < cols; j++) out[o + j] = gy[o + j]! - Math.exp(y[o + j]!) * sum;
  }
};

export const layerNorm: Kernels['layerNorm'] = (x, w, b, { rows, cols, eps }: NormArgs, out, mean, rstd) => {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let s = 0;
    for (let j = 0; j < cols; j++) s += x[o + j]!;
    const mu = s / cols;
    let v = 0;
    for (let j = 0; j < cols; j++) { const d = x[o + j]! - mu; v += d * d; }
    const rs = 1 / Math.sqrt(v / cols + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let j = 0; j < cols; j++) {
      const n = (x[o + j]! - mu) * rs;
      out[o + j] = (w ? n * w[j]! : n) + (b ? b[j]! : 0);
    }
  }
};

export const layerNormBackward: Kernels['layerNormBackward'] = (x, w, mean, rstd, gy, { rows, cols }: NormArgs, dx, dw, db) => {
  dw?.fill(0);
  db?.fill(0);
  for (let r = 0; r < rows; r++) {
    const o = r * cols, mu = mean[r]!, rs = rstd[r]!;
    // dxhat = gy * w; dx = rs * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
    let sumG = 0, sumGX = 0;
    for (let j = 0; j < cols; j++) {
      const xhat = (x[o + j]! - mu) * rs;
      const g = gy[o + j]! * (w ? w[j]! : 1);
      sumG += g;
      sumGX += g * xhat;
      if (dw) dw[j] = dw[j]! + gy[o + j]! * xhat;
      if (db) db[j] = db[j]! + gy[o + j]!;
    }
    const mG = sumG / cols, mGX = sumGX / cols;
    for (let j = 0; j < cols; j++) {
      const xhat = (x[o + j]! - mu) * rs;
      const g = gy[o + j]! * (w ? w[j]! : 1);
      dx[o + j] = rs * (g - mG - xhat * mGX);
    }
  }
};

export const rmsNorm: Kernels['rmsNorm'] = (x, w, { rows, cols, eps }: NormArgs, out, rstd) => {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let ss = 0;
    for (let j = 0; j < cols; j++) ss += x[o + j]! * x[o + j]!;
    const rs = 1 / Math.sqrt(ss / cols + eps);
    rstd[r] = rs;
    for (let j = 0; j < cols; j++) out[o + j] = w ? x[o + j]! * rs * w[j]! : x[o + j]! * rs;
  }
};

export const rmsNormBackward: Kernels['rmsNormBackward'] = (x, w, rstd, gy, { rows, cols }: NormArgs, dx, dw) => {
  dw?.fill(0);
  for (let r = 0; r < rows; r++) {
    const o = r * cols, rs = rstd[r]!;
    // y = x * rs * w; dx = rs * (g - xhat * mean(g * xhat)) with g = gy * w, xhat = x * rs
    let sumGX = 0;
    for (let j = 0; j < cols; j++) {
      const xhat = x[o + j]! * rs;
      const g = gy[o + j]! * (w ? w[j]! : 1);
      sumGX += g * xhat;
      if (dw) dw[j] = dw[j]! + gy[o + j]! * xhat;
    }
    const m = sumGX / cols;
    for (let j = 0; j < cols; j++) {
      const xhat = x[o + j]! * rs;
      const g = gy[o + j]! * (w ? w[j]! : 1);
      dx[o + j] = rs * (g - xhat * m);
    }
  }
};

export type { FloatStorage };
