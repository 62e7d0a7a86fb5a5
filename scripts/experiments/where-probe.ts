// Issue 5: do the rows the LLM reads for an image say *where* things are? Fits ridge regressions (float64, closed
// form) from each image row — the vision tower's output and the projected row — to (a) the patch's own column and
// row, (b) for patches covering an object, the object's left edge (in 5% steps). Fitted on the train records,
// scored (R², and exact / within-one accuracy of the rounded prediction) on the held-out ones.
// Usage: node --import tsx scripts/experiments/where-probe.ts <model dir> <train.jsonl> <heldout.jsonl> [max records]

import { initBackend } from '../../src/backend/select.ts';
import { loadTessera } from '../../src/models/tessera/checkpoint.ts';
import { loadJsonl } from '../../src/train/dataset.ts';
import { attributeEncoder, patchLabels, readScenes } from '../../src/train/encoder-pretrain.ts';
import { noGrad, tensor } from '../../src/tensor/index.ts';

const [modelDir, trainPath, heldPath, maxArg] = process.argv.slice(2) as [string, string, string, string | undefined];
await initBackend();
const { model, processor } = loadTessera(modelDir);
model.eval();
const v = model.config.vision!.vit, grid = v.imageSize / v.patchSize, N = grid * grid;
const lefts = patchLabels.flatMap((l, k) => (l.startsWith('left ') ? [k] : []));
const K = patchLabels.length;

type Rows = { tower: number[][]; proj: number[][]; col: number[]; row: number[]; left: (number | null)[] };
async function rows(path: string): Promise<Rows> {
  const { samples } = await loadJsonl(path, attributeEncoder('image', processor, readScenes(path), grid), { onBadRecord: 'fail' });
  const use = samples.slice(0, Number(maxArg ?? 600));
  const out: Rows = { tower: [], proj: [], col: [], row: [], left: [] };
  for (let i = 0; i < use.length; i += 32) {
    const part = use.slice(i, i + 32);
    const media = new Float32Array(part.length * part[0]!.media.length);
    part.forEach((s, j) => media.set(s.media, j * s.media.length));
    const px = tensor(media, { shape: [part.length, 3, v.imageSize, v.imageSize] });
    const [t, p] = noGrad(() => {
      const states = model.vision!.forward(px, model.config.vision!.featureIndex).hiddenStates;
      const feat = states[model.config.vision!.featureIndex]!;
      return [feat.toFloat32Array(), model.visionProjector!.forward(feat).toFloat32Array()];
    });
    const dt = t.length / (part.length * N), dp = p.length / (part.length * N);
    part.forEach((s, j) => {
      for (let q = 0; q < N; q++) {
        const r = j * N + q;
        out.tower.push(Array.from(t.subarray(r * dt, r * dt + dt)));
        out.proj.push(Array.from(p.subarray(r * dp, r * dp + dp)));
        out.col.push(q % grid); out.row.push(Math.floor(q / grid));
        const y = s.patches!.subarray(q * K, q * K + K);
        const l = lefts.findIndex((k) => y[k] === 1);
        out.left.push(l < 0 ? null : l);
      }
    });
  }
  return out;
}

/** Ridge regression with a bias: solves (XᵀX + λI) w = Xᵀy by Cholesky. */
function ridge(X: number[][], y: number[], lambda = 1e-2): number[] {
  const d = X[0]!.length + 1, A = new Float64Array(d * d), b = new Float64Array(d);
  for (let i = 0; i < X.length; i++) {
    const x = [...X[i]!, 1];
    for (let a = 0; a < d; a++) {
      b[a]! += x[a]! * y[i]!;
      for (let c = 0; c <= a; c++) A[a * d + c]! += x[a]! * x[c]!;
    }
  }
  for (let a = 0; a < d; a++) { A[a * d + a]! += lambda * X.length; for (let c = 0; c < a; c++) A[c * d + a] = A[a * d + c]!; }
  const L = new Float64Array(d * d);
  for (let a = 0; a < d; a++) for (let c = 0; c <= a; c++) {
    let s = A[a * d + c]!;
    for (let k = 0; k < c; k++) s -= L[a * d + k]! * L[c * d + k]!;
    L[a * d + c] = a === c ? Math.sqrt(s) : s / L[c * d + c]!;
  }
  const z = new Float64Array(d), w = new Float64Array(d);
  for (let a = 0; a < d; a++) { let s = b[a]!; for (let k = 0; k < a; k++) s -= L[a * d + k]! * z[k]!; z[a] = s / L[a * d + a]!; }
  for (let a = d - 1; a >= 0; a--) { let s = z[a]!; for (let k = a + 1; k < d; k++) s -= L[k * d + a]! * w[k]!; w[a] = s / L[a * d + a]!; }
  return Array.from(w);
}
const predict = (w: number[], x: number[]) => x.reduce((s, v, i) => s + v * w[i]!, w[x.length]!);

function score(name: string, Xtr: number[][], ytr: number[], Xte: number[][], yte: number[]) {
  const w = ridge(Xtr, ytr);
  const pred = Xte.map((x) => predict(w, x));
  const mean = yte.reduce((a, b) => a + b, 0) / yte.length;
  const ssr = yte.reduce((s, y, i) => s + (y - pred[i]!) ** 2, 0), sst = yte.reduce((s, y) => s + (y - mean) ** 2, 0);
  const exact = yte.filter((y, i) => Math.round(pred[i]!) === y).length / yte.length;
  const near = yte.filter((y, i) => Math.abs(Math.round(pred[i]!) - y) <= 1).length / yte.length;
  console.log(`${name.padEnd(28)} R² ${(1 - ssr / sst).toFixed(3)}  exact ${(exact * 100).toFixed(1)}%  within one ${(near * 100).toFixed(1)}%  (${yte.length} rows)`);
}
const tr = await rows(trainPath), te = await rows(heldPath);
for (const kind of ['tower', 'proj'] as const) {
  score(`${kind}: own column`, tr[kind], tr.col, te[kind], te.col);
  score(`${kind}: own row`, tr[kind], tr.row, te[kind], te.row);
  const sel = (r: Rows) => r.left.flatMap((l, i) => (l === null ? [] : [i]));
  const a = sel(tr), b = sel(te);
  score(`${kind}: object's left edge`, a.map((i) => tr[kind][i]!), a.map((i) => tr.left[i]!), b.map((i) => te[kind][i]!), b.map((i) => te.left[i]!));
}
