// Scalar math the kernels share: erf in double precision (GELU), and the elementwise functions with their
// derivatives. These definitions are what every faster backend is tested against.

import type { UnaryOp } from '../backend.ts';

const SQRT_PI = Math.sqrt(Math.PI);

/** erf(x) to ~1e-15: Taylor series near 0, Lentz-style continued fraction for erfc in the tails. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2) { // beyond 2 the alternating series loses ~1e-14 to cancellation; the fraction is exact there
    let term = ax, sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    const r = (2 / SQRT_PI) * sum;
    return x < 0 ? -r : r;
  }
  if (ax > 6.5) return x < 0 ? -1 : 1;
  // erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
  let k = ax;
  for (let n = 80; n >= 1; n--) k = ax + n / 2 / k;
  const erfc = Math.exp(-ax * ax) / (SQRT_PI * k);
  return x < 0 ? erfc - 1 : 1 - erfc;
}

const GELU_TANH_C = Math.sqrt(2 / Math.PI);
const INV_SQRT2 = 1 / Math.SQRT2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

export function unaryFn(op: UnaryOp): (x: number) => number {
  switch (op) {
    case 'neg': return (x) => -x;
    case 'exp': return Math.exp;
    case 'log': return Math.log;
    case 'sqrt': return Math.sqrt;
    case 'rsqrt': return (x) => 1 / Math.sqrt(x);
    case 'abs': return Math.abs;
    case 'tanh': return Math.tanh;
    case 'sigmoid': return sigmoid;
    case 'relu': return (x) => (x > 0 ? x : 0);
    case 'silu': return (x) => x * sigmoid(x);
    case 'gelu': return (x) => 0.5 * x * (1 + erf(x * INV_SQRT2));
    case 'geluTanh': return (x) => 0.5 * x * (1 + Math.tanh(GELU_TANH_C * (x + 0.044715 * x * x * x)));
    case 'quickGelu': return (x) => x * sigmoid(1.702 * x);
    case 'square': return (x) => x * x;
    case 'sin': return Math.sin;
    case 'cos': return Math.cos;
  }
}

/** d op(x) / dx */
export function unaryDerivative(op: UnaryOp): (x: number) => number {
  switch (op) {
    case 'neg': return () => -1;
    case 'exp': return Math.exp;
    case 'log': return (x) => 1 / x;
    case 'sqrt': return (x) => 0.5 / Math.sqrt(x);
    case 'rsqrt': return (x) => -0.5 / (x * Math.sqrt(x));
    case 'abs': return (x) => (x > 0 ? 1 : x < 0 ? -1 : 0);
    case 'tanh': return (x) => { const t = Math.tanh(x); return 1 - t * t; };
    case 'sigmoid': return (x) => { const s = sigmoid(x); return s * (1 - s); };
    case 'relu': return (x) => (x > 0 ? 1 : 0);
    case 'silu': return (x) => { const s = sigmoid(x); return s * (1 + x * (1 - s)); };
    case 'gelu': return (x) => 0.5 * (1 + erf(x * INV_SQRT2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
    case 'geluTanh': return (x) => {
      const t = Math.tanh(GELU_TANH_C * (x + 0.044715 * x * x * x));
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_TANH_C * (1 + 3 * 0.044715 * x * x);
    };
    case 'quickGelu': return (x) => { const s = sigmoid(1.702 * x); return s + 1.702 * x * s * (1 - s); };
    case 'square': return (x) => 2 * x;
    case 'sin': return Math.cos;
    case 'cos': return (x) => -Math.sin(x);
  }
}
