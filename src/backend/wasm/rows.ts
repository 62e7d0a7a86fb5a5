// Row-wise kernels of the wasm backend (assembly/rows.ts) over [rows, cols] matrices: softmax (+bwd),
// log_softmax, RMSNorm and LayerNorm fwd/bwd, cross-entropy fused with log-softmax, and reductions.
// Rows are split across the pool; weight gradients are summed from per-worker partials in scratch.
import { ptrOf, splitRange, type WasmRuntime } from './runtime.ts';

type F32 = Float32Array;

function rowChunks(rt: WasmRuntime, rows: number, cols: number, bytesPerElem: number): Array<[number, number]> {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 1) throw new Error(`row kernel: bad shape [${rows}, ${cols}]`);
  return splitRange(rt, rows, 1, rows * cols * bytesPerElem);
}

export function softmax(rt: WasmRuntime, rows: number, cols: number, x: F32, y: F32): void {
  const px = ptrOf(rt, 'softmax', 'x', x, rows * cols), py = ptrOf(rt, 'softmax', 'y', y, rows * cols);
  rt.pool.run('softmax', rowChunks(rt, rows, cols, 16).map(([s, e]) => [s, e, cols, px, py]));
}

export function logSoftmax(rt: WasmRuntime, rows: number, cols: number, x: F32, y: F32): void {
  const px = ptrOf(rt, 'logSoftmax', 'x', x, rows * cols), py = ptrOf(rt, 'logSoftmax', 'y', y, rows * cols);
  rt.pool.run('logSoftmax', rowChunks(rt, rows, cols, 16).map(([s, e]) => [s, e, cols, px, py]));
}

/** dx = y ⊙ (dy − Σ dy⊙y) given the softmax output y. */
export function softmaxBwd(rt: WasmRuntime, rows: number, cols: number, y: F32, dy: F32, dx: F32): void {
  const n = rows * cols, k = 'softmaxBwd';
  const py = ptrOf(rt, k, 'y', y, n), pg = ptrOf(rt, k, 'dy', dy, n), pd = ptrOf(rt, k, 'dx', dx, n);
  rt.pool.run(k, rowChunks(rt, rows, cols, 16).map(([s, e]) => [s, e, cols, py, pg, pd]));
}

/** y = x / rms(x) · w; rstd (rows floats) receives 1/√(mean(x²)+eps). */
export function rmsNorm(rt: WasmRuntime, rows: number, cols: number, x: F32, w: F32, eps: number, y: F32, rstd: F32): void {
  const n = rows * cols, k = 'rmsNorm';
  const px = ptrOf(rt, k, 'x', x, n), pw = ptrOf(rt, k, 'w', w, cols), py = ptrOf(rt, k, 'y', y, n), pr = ptrOf(rt, k, 'rstd', rstd, rows);
  rt.pool.run(k, rowChunks(rt, rows, cols, 12).map(([s, e]) => [s, e, cols, px, pw, eps, py, pr]));
}

// Workers write partial weight gradients into their scratch; worker 0's partial goes straight to the output.
function partialsInto(rt: WasmRuntime, outs: number[], cols: number, parts: number): number[][] {
  if (outs.length * cols * 4 > rt.scratchBytes) throw new Error(`norm backward: cols=${cols} too wide for the per-worker scratch`);
  return Array.from({ length: parts }, (_, w) => outs.map((o, j) => (w === 0 ? o : rt.scratch[w]! + 4 * cols * j)));
}

function sumPartials(rt: WasmRuntime, slots: number[][], cols: number): void {
  for (let w = 1; w < slots.length; w++) {
    slots[0]!.forEach((dst, j) => rt.fn.binary!(0, cols, dst, slots[w]![j]!, dst));
  }
}

/** dx, and dw = Σ_rows dy ⊙ x̂ (overwritten), from the saved rstd. */
export function rmsNormBwd(rt: WasmRuntime, rows: number, cols: number, x: F32, w: F32, rstd: F32, dy: F32, dx: F32, dw: F32): void {
  const n = rows * cols, k = 'rmsNormBwd';
  const px = ptrOf(rt, k, 'x', x, n), pw = ptrOf(rt, k, 'w', w, cols), pr = ptrOf(rt, k, 'rstd', rstd, rows);
  const pg = ptrOf(rt, k, 'dy', dy, n), pdx = ptrOf(rt, k, 'dx', dx, n), pdw = ptrOf(rt, k, 'dw', dw, cols);
  const chunks = rowChunks(rt, rows, cols, 16);
  const slots = partialsInto(rt, [pdw], cols, chunks.length);
  rt.pool.run(k, chunks.map(([s, e], i) => [s, e, cols, px, pw, pr, pg, pdx, slots[i]![0]!]));
  sumPartials(rt, slots, cols);
}

/** y = (x − mean)·rstd·w + b; mean and rstd (rows floats each) are saved for the backward. */
export function layerNorm(rt: WasmRuntime, rows: number, cols: number, x: F32, w: F32, b: F32, eps: number, y: F32, mean: F32, rstd: F32): void {
  const n = rows * cols, k = 'layerNorm';
  const px = ptrOf(rt, k, 'x', x, n), pw = ptrOf(rt, k, 'w', w, cols), pb = ptrOf(rt, k, 'b', b, cols);
  const py = ptrOf(rt, k, 'y', y, n), pm = ptrOf(rt, k, 'mean', mean, rows), pr = ptrOf(rt, k, 'rstd', rstd, rows);
  rt.pool.run(k, rowChunks(rt, rows, cols, 12).map(([s, e]) => [s, e, cols, px, pw, pb, eps, py, pm, pr]));
}

/** dx, dw = Σ dy⊙x̂ and db = Σ dy (both overwritten). */
export function layerNormBwd(rt: WasmRuntime, rows: number, cols: number, x: F32, w: F32, mean: F32, rstd: F32,
                             dy: F32, dx: F32, dw: F32, db: F32): void {
  const n = rows * cols, k = 'layerNormBwd';
  const px = ptrOf(rt, k, 'x', x, n), pw = ptrOf(rt, k, 'w', w, cols), pm = ptrOf(rt, k, 'mean', mean, rows);
  const pr = ptrOf(rt, k, 'rstd', rstd, rows), pg = ptrOf(rt, k, 'dy', dy, n), pdx = ptrOf(rt, k, 'dx', dx, n);
  const pdw = ptrOf(rt, k, 'dw', dw, cols), pdb = ptrOf(rt, k, 'db', db, cols);
  const chunks = rowChunks(rt, rows, cols, 16);
  const slots = partialsInto(rt, [pdw, pdb], cols, chunks.length);
  rt.pool.run(k, chunks.map(([s, e], i) => [s, e, cols, px, pw, pm, pr, pg, pdx, slots[i]![0]!, slots[i]![1]!]));
  sumPartials(rt, slots, cols);
}

/**
 * Cross-entropy over logits [rows, cols] with int targets (ignoreIndex rows skipped, torch's -100 default):
 * writes per-row loss and dlogits = (softmax − onehot) / count, returns the mean loss over counted rows.
 */
export function crossEntropy(rt: WasmRuntime, rows: number, cols: number, logits: F32, targets: Int32Array,
                             loss: F32, dlogits: F32, ignoreIndex = -100): number {
  const n = rows * cols, k = 'crossEntropy';
  const px = ptrOf(rt, k, 'logits', logits, n), pt = ptrOf(rt, k, 'targets', targets, rows);
  const pl = ptrOf(rt, k, 'loss', loss, rows), pd = ptrOf(rt, k, 'dlogits', dlogits, n);
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const t = targets[r]!;
    if (t === ignoreIndex) continue;
    if (!Number.isInteger(t) || t < 0 || t >= cols) throw new Error(`crossEntropy: target ${t} at row ${r} is outside [0, ${cols})`);
    count++;
  }
  const scale = count > 0 ? 1 / count : 0;
  const sums = rt.pool.run(k, rowChunks(rt, rows, cols, 12).map(([s, e]) => [s, e, cols, px, pt, ignoreIndex, scale, pl, pd]));
  return count > 0 ? sums.reduce((a, b) => a + b, 0) / count : 0;
}

/** loss[r] = logsumexp(logits[r]) − logits[r, t[r]], 0 where t[r] = ignoreIndex (other targets must be in range). */
export function crossEntropyLoss(rt: WasmRuntime, rows: number, cols: number, logits: F32, targets: Int32Array, ignoreIndex: number, loss: F32): void {
  const k = 'crossEntropyLoss';
  const px = ptrOf(rt, k, 'logits', logits, rows * cols), pt = ptrOf(rt, k, 'targets', targets, rows), pl = ptrOf(rt, k, 'loss', loss, rows);
  checkTargets(k, targets, rows, cols, ignoreIndex);
  rt.pool.run(k, rowChunks(rt, rows, cols, 4).map(([s, e]) => [s, e, cols, px, pt, ignoreIndex, pl]));
}

/** dlogits[r] = scale · (softmax(logits[r]) − onehot(t[r])), zero rows where t[r] = ignoreIndex. */
export function crossEntropyGrad(rt: WasmRuntime, rows: number, cols: number, logits: F32, targets: Int32Array, ignoreIndex: number,
                                 scale: number, dlogits: F32): void {
  const k = 'crossEntropyGrad', n = rows * cols;
  const px = ptrOf(rt, k, 'logits', logits, n), pt = ptrOf(rt, k, 'targets', targets, rows), pd = ptrOf(rt, k, 'dlogits', dlogits, n);
  checkTargets(k, targets, rows, cols, ignoreIndex);
  rt.pool.run(k, rowChunks(rt, rows, cols, 12).map(([s, e]) => [s, e, cols, px, pt, ignoreIndex, scale, pd]));
}

function checkTargets(kernel: string, targets: Int32Array, rows: number, cols: number, ignoreIndex: number): void {
  for (let r = 0; r < rows; r++) {
    const t = targets[r]!;
    if (t !== ignoreIndex && !(t >= 0 && t < cols)) throw new Error(`${kernel}: target ${t} at row ${r} is outside [0, ${cols})`);
  }
}

/** out[r] = Σ_c x[r, c] */
export function sumRows(rt: WasmRuntime, rows: number, cols: number, x: F32, out: F32): void {
  const px = ptrOf(rt, 'sumRows', 'x', x, rows * cols), po = ptrOf(rt, 'sumRows', 'out', out, rows);
  rt.pool.run('sumRows', rowChunks(rt, rows, cols, 4).map(([s, e]) => [s, e, cols, px, po]));
}

/** out[c] = Σ_r x[r, c] (bias gradient); columns are split across workers. */
export function sumCols(rt: WasmRuntime, rows: number, cols: number, x: F32, out: F32): void {
  const px = ptrOf(rt, 'sumCols', 'x', x, rows * cols), po = ptrOf(rt, 'sumCols', 'out', out, cols);
  rt.pool.run('sumCols', splitRange(rt, cols, 16, rows * cols * 4).map(([s, e]) => [rows, cols, s, e, px, po]));
}

/**
 * Σ x² over n floats in f64 (grad-norm clipping), bit for bit the reference kernel's: one job, since splitting
 * the range across workers would change the order of the sums.
 */
export function sumSquares(rt: WasmRuntime, n: number, x: F32): number {
  return rt.pool.run('sumSquares', [[n, ptrOf(rt, 'sumSquares', 'x', x, n)]])[0]!;
}
