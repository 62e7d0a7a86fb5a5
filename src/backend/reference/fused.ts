// Reference kernels of the fused ops: SwiGLU (silu(a)·b) and rotate-half RoPE, forward and backward.
// Each equals its composition of primitives (ops tests compare them).

import type { Kernels, RopeArgs } from '../backend.ts';

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

export const swiglu: Kernels['swiglu'] = (a, b, out) => {
  for (let i = 0; i < out.length; i++) { const x = a[i]!; out[i] = x * sigmoid(x) * b[i]!; }
};

export const swigluBackward: Kernels['swigluBackward'] = (a, b, gy, da, db) => {
  for (let i = 0; i < gy.length; i++) {
    const x = a[i]!, s = sigmoid(x), g = gy[i]!;
    db[i] = g * x * s;
    da[i] = g * b[i]! * s * (1 + x * (1 - s));
  }
};

export const rope: Kernels['rope'] = (x, cos, sin, a: RopeArgs, out) => {
  const { rows, heads, headDim: D, rotary: R, tableRows, inverse } = a;
  const half = R / 2;
  for (let r = 0; r < rows; r++) {
    const t = (r % tableRows) * R;
    for (let h = 0; h < heads; h++) {
      const o = (r * heads + h) * D;
      for (let i = 0; i < half; i++) {
        const x1 = x[o + i]!, x2 = x[o + i + half]!;
        const c1 = cos[t + i]!, c2 = cos[t + i + half]!, s1 = sin[t + i]!, s2 = sin[t + i + half]!;
        if (inverse) {
          out[o + i] = x1 * c1 + x2 * s2;
          out[o + i + half] = x2 * c2 - x1 * s1;
        } else {
          out[o + i] = x1 * c1 - x2 * s1;
          out[o + i + half] = x2 * c2 + x1 * s2;
        }
      }
      for (let i = R; i < D; i++) out[o + i] = x[o + i]!;
    }
  }
};
