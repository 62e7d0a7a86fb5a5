// sgemm / sgemmStridedBatched against a plain-JS triple loop in f64: all four transposes, odd sizes,
// size-1 dims (the GEMV paths), leading dimensions larger than the matrix, alpha/beta, 1 and 2 threads.
// Error bound: |C − C_ref| ≤ 4e-6 · (Σ_k |a_ik b_kj| · |alpha| + |beta c_ij|) + 1e-6, i.e. a few ulp per K.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWasmRuntime, type WasmRuntime } from './runtime.ts';
import { MC, MR, NR, sgemm, sgemmStridedBatched } from './gemm.ts';

function fill(a: Float32Array, seed: number): void {
  let s = seed;
  for (let i = 0; i < a.length; i++) { s = (s * 1103515245 + 12345) >>> 0; a[i] = s / 2 ** 31 - 1; }
}

function check(rt: WasmRuntime, tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number, beta: number, pad: number): void {
  const lda = Math.max(1, (tA ? M : K) + pad), ldb = Math.max(1, (tB ? K : N) + pad), ldc = N + pad;
  const A = rt.heap.alloc((tA ? K : M) * lda), B = rt.heap.alloc((tB ? N : K) * ldb), C = rt.heap.alloc(M * ldc);
  fill(A.array, M * 7 + K); fill(B.array, N * 13 + K); fill(C.array, 99);
  const c0 = C.array.slice();
  sgemm(rt, tA, tB, M, N, K, alpha, A.array, lda, B.array, ldb, beta, C.array, ldc);
  let worst = 0;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0, mag = 0;
      for (let k = 0; k < K; k++) {
        const a = tA ? A.array[k * lda + i]! : A.array[i * lda + k]!;
        const b = tB ? B.array[j * ldb + k]! : B.array[k * ldb + j]!;
        s += a * b; mag += Math.abs(a * b);
      }
      const ref = alpha * s + (beta === 0 ? 0 : beta * c0[i * ldc + j]!);
      const tol = 4e-6 * (Math.abs(alpha) * mag + Math.abs(beta * c0[i * ldc + j]!)) + 1e-6;
      worst = Math.max(worst, Math.abs(C.array[i * ldc + j]! - ref) / tol);
    }
    // padding columns of C must be untouched
    for (let j = N; j < ldc; j++) assert.equal(C.array[i * ldc + j], c0[i * ldc + j]);
  }
  assert.ok(worst <= 1, `sgemm tA=${tA} tB=${tB} M=${M} N=${N} K=${K}: error ${worst.toFixed(2)}× the bound`);
  for (const b of [A, B, C]) rt.heap.free(b.ptr);
}

const shapes: Array<[number, number, number]> = [
  [1, 1, 1], [1, 37, 19], [23, 1, 41], [5, 8, 1], [7, 9, 300], [131, 67, 259], [64, 130, 64], [260, 33, 17], [3, 600, 70], [257, 513, 9],
];

for (const threads of [1, 2]) {
  test(`sgemm matches the reference, all transposes, threads=${threads}`, async () => {
    const rt = await createWasmRuntime({ threads });
    try {
      for (const [M, N, K] of shapes) {
        for (const tA of [false, true]) for (const tB of [false, true]) check(rt, tA, tB, M, N, K, 1, 0, 0);
      }
      check(rt, false, true, 45, 50, 33, -0.5, 1, 3);
      check(rt, true, false, 31, 1, 33, 2, 0.25, 2);
      check(rt, true, true, 1, 17, 29, 1.5, -1, 5);
      check(rt, false, false, 12, 12, 0, 1, 0.5, 0); // K = 0: C = beta C
      check(rt, true, false, 37, 29, 300, 0.75, 0.5, 1); // beta ∉ {0, 1} with two K blocks
      check(rt, false, true, 64, 40, 520, 1, 1, 0); // beta = 1 accumulates across three K blocks
      // large enough for the shared packed-B path on 2 threads: ragged row chunks, N > NC, K > KC
      for (const tA of [false, true]) for (const tB of [false, true]) check(rt, tA, tB, 203, 530, 300, 1, 0, 0);
      check(rt, true, false, 301, 131, 270, -1.25, 1, 2);
      check(rt, false, true, 256, 64, 700, 0.5, 0.5, 0);
    } finally {
      await rt.close();
    }
  });
}

test('sgemmStridedBatched equals per-batch sgemm, batches split across 2 workers', async () => {
  const rt = await createWasmRuntime({ threads: 2 });
  try {
    const [count, M, N, K] = [5, 17, 23, 31];
    const A = rt.heap.alloc(count * M * K), B = rt.heap.alloc(count * N * K), C = rt.heap.alloc(count * M * N), D = rt.heap.alloc(M * N);
    fill(A.array, 1); fill(B.array, 2);
    sgemmStridedBatched(rt, false, true, M, N, K, 1, A.array, K, M * K, B.array, K, N * K, 0, C.array, N, M * N, count);
    for (let b = 0; b < count; b++) {
      sgemm(rt, false, true, M, N, K, 1, A.array.subarray(b * M * K), K, B.array.subarray(b * N * K), K, 0, D.array, N);
      assert.deepEqual(C.array.subarray(b * M * N, (b + 1) * M * N), D.array);
    }
  } finally {
    await rt.close();
  }
});

test('sgemm with beta = 0 overwrites C, NaN included', async () => {
  const rt = await createWasmRuntime({ threads: 2 });
  try {
    const [M, N, K] = [23, 17, 270];
    const A = rt.heap.alloc(M * K), B = rt.heap.alloc(K * N), C = rt.heap.alloc(M * N);
    A.array.fill(0.5); B.array.fill(2); C.array.fill(NaN);
    sgemm(rt, false, false, M, N, K, 1, A.array, K, B.array, N, 0, C.array, N);
    assert.ok(C.array.every((v) => v === K), 'every element is K · 0.5 · 2');
  } finally {
    await rt.close();
  }
});

test('sgemm rejects foreign arrays, short arrays and bad leading dimensions', async () => {
  const rt = await createWasmRuntime({ threads: 1 });
  try {
    const a = rt.heap.alloc(16).array;
    assert.throws(() => sgemm(rt, false, false, 4, 4, 4, 1, new Float32Array(16), 4, a, 4, 0, a, 4), /A is not a view of the wasm heap/);
    assert.throws(() => sgemm(rt, false, false, 4, 4, 5, 1, a, 5, a, 4, 0, a, 4), /A has 16 elements, needs 20/);
    assert.throws(() => sgemm(rt, false, false, 4, 4, 4, 1, a, 3, a, 4, 0, a, 4), /lda=3 < 4/);
  } finally {
    await rt.close();
  }
});

test('the TS side splits on the kernel module\'s tile and row block', async () => {
  const rt = await createWasmRuntime({ threads: 1 });
  try {
    const b = rt.fn.gemmBlocking!();
    assert.deepEqual({ MR: b >> 16, NR: (b >> 8) & 0xff, MC: b & 0xff }, { MR, NR, MC });
  } finally {
    await rt.close();
  }
});
