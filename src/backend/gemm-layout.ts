// Reading a BLAS layout off strides: the last two dims of a strided view are a GEMM operand when one of
// them has stride 1 (row-major, or transposed), and the other is the leading dimension. Batch dims walk on.

export interface GemmOperand {
  readonly ld: number;
  readonly trans: boolean;
}

/** Layout of the matrix in the last two dims (rows × cols, after `nb` batch dims), or null if not GEMM-able. */
export function gemmLayout(strides: readonly number[], nb: number, rows: number, cols: number): GemmOperand | null {
  const sr = strides[nb]!, sc = strides[nb + 1]!;
  if ((sc === 1 || cols === 1) && (sr >= Math.max(1, cols) || rows === 1)) return { ld: Math.max(rows === 1 ? cols : sr, cols, 1), trans: false };
  if ((sr === 1 || rows === 1) && (sc >= Math.max(1, rows) || cols === 1)) return { ld: Math.max(cols === 1 ? rows : sc, rows, 1), trans: true };
  return null;
}

/** Elements an operand spans from its first element. */
export function gemmSpan(op: GemmOperand, rows: number, cols: number): number {
  if (rows === 0 || cols === 0) return 0;
  return op.trans ? (cols - 1) * op.ld + rows : (rows - 1) * op.ld + cols;
}

/** If every batch dim steps uniformly (one stride for the flattened batch), that stride; else null. */
export function uniformBatchStride(shape: readonly number[], strides: readonly number[], nb: number): number | null {
  let expect: number | null = null, inner = 1;
  for (let d = nb - 1; d >= 0; d--) {
    const n = shape[d]!;
    if (n === 1) continue;
    const s = strides[d]!;
    if (expect === null) { expect = s; inner = n; continue; }
    if (s !== expect * inner) return null;
    inner *= n;
  }
  return expect ?? 0;
}
