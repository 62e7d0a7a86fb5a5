// AssemblyScript source, compiled by asc (scripts/build-wasm.mjs); tsconfig excludes this folder.
// Data-movement kernels: rotary embeddings in the rotate-half form (Su et al. 2021, RoFormer; HF
// apply_rotary_pos_emb) and im2col (Chellapilla et al. 2006) so convolution becomes one GEMM.

@inline function at(base: usize, i: i32): usize { return base + <usize>(i << 2); }

// x, out [rows, H, D]; cos, sin [tableRows, R] full-width (HF's cat(freqs, freqs) form, halves may differ);
// rows [r0, r1), row r uses table row r % tableRows; the first R channels of a head rotate, the rest are copied.
// out[i] = x[i]·c[i] − x[i+R/2]·s[i], out[i+R/2] = x[i+R/2]·c[i+R/2] + x[i]·s[i+R/2];
// inverse (the backward, Rᵀ): out[i] = x[i]·c[i] + x[i+R/2]·s[i+R/2], out[i+R/2] = x[i+R/2]·c[i+R/2] − x[i]·s[i].
export function rope(r0: i32, r1: i32, H: i32, D: i32, R: i32, tableRows: i32, x: usize, cos: usize, sin: usize,
                     inverse: i32, out: usize): void {
  const half = R >> 1, hb = <usize>(half << 2);
  for (let r = r0; r < r1; r++) {
    const c1 = at(cos, (r % tableRows) * R), s1 = at(sin, (r % tableRows) * R), c2 = c1 + hb, s2 = s1 + hb;
    for (let h = 0; h < H; h++) {
      const base = <usize>(r * H + h) * <usize>D * 4;
      const x1 = x + base, x2 = x1 + hb, o1 = out + base, o2 = o1 + hb;
      let i = 0;
      if (inverse == 0) {
        for (; i + 4 <= half; i += 4) {
          const a = v128.load(at(x1, i)), b = v128.load(at(x2, i));
          v128.store(at(o1, i), f32x4.sub(f32x4.mul(a, v128.load(at(c1, i))), f32x4.mul(b, v128.load(at(s1, i)))));
          v128.store(at(o2, i), f32x4.add(f32x4.mul(b, v128.load(at(c2, i))), f32x4.mul(a, v128.load(at(s2, i)))));
        }
        for (; i < half; i++) {
          const a = load<f32>(at(x1, i)), b = load<f32>(at(x2, i));
          store<f32>(at(o1, i), a * load<f32>(at(c1, i)) - b * load<f32>(at(s1, i)));
          store<f32>(at(o2, i), b * load<f32>(at(c2, i)) + a * load<f32>(at(s2, i)));
        }
      } else {
        for (; i + 4 <= half; i += 4) {
          const a = v128.load(at(x1, i)), b = v128.load(at(x2, i));
          v128.store(at(o1, i), f32x4.add(f32x4.mul(a, v128.load(at(c1, i))), f32x4.mul(b, v128.load(at(s2, i)))));
          v128.store(at(o2, i), f32x4.sub(f32x4.mul(b, v128.load(at(c2, i))), f32x4.mul(a, v128.load(at(s1, i)))));
        }
        for (; i < half; i++) {
          const a = load<f32>(at(x1, i)), b = load<f32>(at(x2, i));
          store<f32>(at(o1, i), a * load<f32>(at(c1, i)) + b * load<f32>(at(s2, i)));
          store<f32>(at(o2, i), b * load<f32>(at(c2, i)) - a * load<f32>(at(s1, i)));
        }
      }
      if (R < D && x != out) memory.copy(at(o1, R), at(x1, R), <usize>(D - R) << 2);
    }
  }
}

// dst = the strided 4-D view src [n0, n1, n2, n3] (strides s0..s3, floats) laid out contiguously, for the flat
// outer indices [i0, i1) of n0·n1. Rows with s3 = 1 are block copies; a transposed inner pair (s2 = 1) goes in
// 8×8 tiles so reads and writes both stay within a few cache lines.
export function copyStrided(i0: i32, i1: i32, n1: i32, n2: i32, n3: i32, s0: i32, s1: i32, s2: i32, s3: i32, src: usize, dst: usize): void {
  const inner = n2 * n3;
  for (let i = i0; i < i1; i++) {
    const from = at(src, (i / n1) * s0 + (i % n1) * s1), to = at(dst, i * inner);
    if (s3 == 1) {
      for (let c = 0; c < n2; c++) memory.copy(at(to, c * n3), at(from, c * s2), <usize>n3 << 2);
    } else if (s2 == 1) {
      for (let c0 = 0; c0 < n2; c0 += 8) for (let d0 = 0; d0 < n3; d0 += 8) {
        const c1 = min(n2, c0 + 8), d1 = min(n3, d0 + 8);
        for (let d = d0; d < d1; d++) for (let c = c0; c < c1; c++) store<f32>(at(to, c * n3 + d), load<f32>(at(from, c + d * s3)));
      }
    } else {
      for (let c = 0; c < n2; c++) for (let d = 0; d < n3; d++) store<f32>(at(to, c * n3 + d), load<f32>(at(from, c * s2 + d * s3)));
    }
  }
}

// x [C, IH, IW] → col [C·KH·KW, OH·OW] for channels [c0, c1); zero outside the padded input.
export function im2col(c0: i32, c1: i32, IH: i32, IW: i32, KH: i32, KW: i32, SH: i32, SW: i32, PH: i32, PW: i32,
                       DH: i32, DW: i32, OH: i32, OW: i32, x: usize, col: usize): void {
  for (let c = c0; c < c1; c++) {
    for (let ki = 0; ki < KH; ki++) {
      for (let kj = 0; kj < KW; kj++) {
        const row = col + <usize>((c * KH + ki) * KW + kj) * <usize>(OH * OW) * 4;
        for (let oy = 0; oy < OH; oy++) {
          const iy = oy * SH - PH + ki * DH;
          const dst = row + <usize>(oy * OW) * 4;
          if (iy < 0 || iy >= IH) { memory.fill(dst, 0, <usize>OW * 4); continue; }
          const src = x + <usize>((c * IH + iy) * IW) * 4;
          for (let ox = 0; ox < OW; ox++) {
            const ix = ox * SW - PW + kj * DW;
            store<f32>(at(dst, ox), ix >= 0 && ix < IW ? load<f32>(at(src, ix)) : 0);
          }
        }
      }
    }
  }
}
