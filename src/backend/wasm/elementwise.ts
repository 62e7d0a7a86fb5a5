// Elementwise kernels of the wasm backend (assembly/elementwise.ts): binary ops with same shape, a broadcast
// row vector, a broadcast column or a scalar; scale; activations and simple unary ops with their derivatives;
// SwiGLU fwd/bwd and AdamW.
// Flat ranges are split across the pool in 16-float chunks when large enough; outputs may alias inputs.
import { ptrOf, splitRange, type WasmRuntime } from './runtime.ts';

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div';
export type UnaryOp = 'relu' | 'gelu' | 'geluTanh' | 'quickGelu' | 'silu' | 'exp' | 'tanh' | 'sigmoid' | 'neg' | 'square' | 'abs' | 'sqrt' | 'rsqrt';
/** The ops whose derivative has a kernel. */
export type UnaryGradOp = Exclude<UnaryOp, 'sqrt' | 'rsqrt'>;
const binaryCode: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3 };
const unaryCode: Record<UnaryOp, number> = {
  relu: 0, gelu: 1, geluTanh: 2, quickGelu: 3, silu: 4, exp: 5, tanh: 6, sigmoid: 7, neg: 8, square: 9, abs: 10, sqrt: 11, rsqrt: 12,
};
const unaryGradCode: Record<UnaryGradOp, number> = {
  relu: 0, gelu: 1, geluTanh: 2, quickGelu: 3, silu: 4, exp: 5, tanh: 6, sigmoid: 7, neg: 8, square: 9, abs: 10,
};

type F32 = Float32Array;

// Runs op over [0, n) split into chunks; args(start, end) gives the kernel arguments of one chunk.
function flat(rt: WasmRuntime, op: string, n: number, bytesPerElem: number, args: (s: number, e: number) => number[]): void {
  rt.pool.run(op, splitRange(rt, n, 16, n * bytesPerElem).map(([s, e]) => args(s, e)));
}

function code<T extends string>(kernel: string, table: Record<T, number>, op: T): number {
  const c = table[op];
  if (c === undefined) throw new Error(`${kernel}: unknown op '${op}' (expected one of ${Object.keys(table).join(', ')})`);
  return c;
}

/** out = a op b over n floats. */
export function binary(rt: WasmRuntime, op: BinaryOp, n: number, a: F32, b: F32, out: F32): void {
  const c = code('binary', binaryCode, op);
  const pa = ptrOf(rt, 'binary', 'a', a, n), pb = ptrOf(rt, 'binary', 'b', b, n), po = ptrOf(rt, 'binary', 'out', out, n);
  flat(rt, 'binary', n, 12, (s, e) => [c, e - s, pa + 4 * s, pb + 4 * s, po + 4 * s]);
}

/** out[r, c] = a[r, c] op v[c] for a [rows, cols] matrix and a cols vector (bias add, scale by a row). */
export function binaryRow(rt: WasmRuntime, op: BinaryOp, rows: number, cols: number, a: F32, v: F32, out: F32): void {
  const c = code('binaryRow', binaryCode, op);
  const pa = ptrOf(rt, 'binaryRow', 'a', a, rows * cols), pv = ptrOf(rt, 'binaryRow', 'v', v, cols);
  const po = ptrOf(rt, 'binaryRow', 'out', out, rows * cols);
  rt.pool.run('binaryRow', splitRange(rt, rows, 1, rows * cols * 8).map(([s, e]) => [c, e - s, cols, pa + 4 * s * cols, pv, po + 4 * s * cols]));
}

/** out[r, c] = a[r, c] op v[r] for a [rows, cols] matrix and a rows vector (rows = 1: a scalar). */
export function binaryCol(rt: WasmRuntime, op: BinaryOp, rows: number, cols: number, a: F32, v: F32, out: F32): void {
  const c = code('binaryCol', binaryCode, op);
  const pa = ptrOf(rt, 'binaryCol', 'a', a, rows * cols), pv = ptrOf(rt, 'binaryCol', 'v', v, rows);
  const po = ptrOf(rt, 'binaryCol', 'out', out, rows * cols);
  if (rows === 1) return flat(rt, 'binaryCol', cols, 8, (s, e) => [c, 1, e - s, pa + 4 * s, pv, po + 4 * s]);
  rt.pool.run('binaryCol', splitRange(rt, rows, 1, rows * cols * 8).map(([s, e]) => [c, e - s, cols, pa + 4 * s * cols, pv + 4 * s, po + 4 * s * cols]));
}

/** out = x · s */
export function scale(rt: WasmRuntime, n: number, x: F32, s: number, out: F32): void {
  const px = ptrOf(rt, 'scale', 'x', x, n), po = ptrOf(rt, 'scale', 'out', out, n);
  flat(rt, 'scale', n, 8, (a, b) => [b - a, px + 4 * a, s, po + 4 * a]);
}

export function unary(rt: WasmRuntime, op: UnaryOp, n: number, x: F32, out: F32): void {
  const c = code('unary', unaryCode, op);
  const px = ptrOf(rt, 'unary', 'x', x, n), po = ptrOf(rt, 'unary', 'out', out, n);
  flat(rt, 'unary', n, ['relu', 'neg', 'square', 'abs'].includes(op) ? 8 : 32, (s, e) => [c, e - s, px + 4 * s, po + 4 * s]);
}

/** out = gy · op'(x) over n floats. */
export function unaryBackward(rt: WasmRuntime, op: UnaryGradOp, n: number, x: F32, gy: F32, out: F32): void {
  const c = code('unaryBackward', unaryGradCode, op);
  const px = ptrOf(rt, 'unaryBackward', 'x', x, n), pg = ptrOf(rt, 'unaryBackward', 'gy', gy, n), po = ptrOf(rt, 'unaryBackward', 'out', out, n);
  flat(rt, 'unaryBwd', n, 32, (s, e) => [c, e - s, px + 4 * s, pg + 4 * s, po + 4 * s]);
}

/** out = silu(a) · b */
export function swiglu(rt: WasmRuntime, n: number, a: F32, b: F32, out: F32): void {
  const pa = ptrOf(rt, 'swiglu', 'a', a, n), pb = ptrOf(rt, 'swiglu', 'b', b, n), po = ptrOf(rt, 'swiglu', 'out', out, n);
  flat(rt, 'swiglu', n, 32, (s, e) => [e - s, pa + 4 * s, pb + 4 * s, po + 4 * s]);
}

/** da = dy · b · silu'(a), db = dy · silu(a) */
export function swigluBwd(rt: WasmRuntime, n: number, a: F32, b: F32, dy: F32, da: F32, db: F32): void {
  const k = 'swigluBwd';
  const pa = ptrOf(rt, k, 'a', a, n), pb = ptrOf(rt, k, 'b', b, n), pg = ptrOf(rt, k, 'dy', dy, n);
  const pda = ptrOf(rt, k, 'da', da, n), pdb = ptrOf(rt, k, 'db', db, n);
  flat(rt, k, n, 40, (s, e) => [e - s, pa + 4 * s, pb + 4 * s, pg + 4 * s, pda + 4 * s, pdb + 4 * s]);
}

export interface AdamWParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count after this update (torch's `state['step']`) */
  step: number;
  /** The gradient is read as g·gradScale (clipping's coefficient); default 1. */
  gradScale?: number;
}

/** One torch.optim.AdamW step over n parameters, updating p, m, v in place. */
export function adamw(rt: WasmRuntime, n: number, p: F32, g: F32, m: F32, v: F32, h: AdamWParams): void {
  if (!(Number.isInteger(h.step) && h.step >= 1)) throw new Error(`adamw: step must be an integer >= 1, got ${h.step}`);
  const k = 'adamw';
  const pp = ptrOf(rt, k, 'p', p, n), pg = ptrOf(rt, k, 'g', g, n), pm = ptrOf(rt, k, 'm', m, n), pv = ptrOf(rt, k, 'v', v, n);
  const stepSize = h.lr / (1 - h.beta1 ** h.step);
  const bc2Sqrt = Math.sqrt(1 - h.beta2 ** h.step);
  flat(rt, k, n, 28, (s, e) => [e - s, pp + 4 * s, pg + 4 * s, pm + 4 * s, pv + 4 * s,
    h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, stepSize, bc2Sqrt, h.gradScale ?? 1]);
}
