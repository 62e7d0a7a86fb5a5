// @ts-nocheck — AssemblyScript source, compiled by asc (scripts/build-wasm.mjs), not by tsc.
// Data-movement kernels: rotary embeddings in the rotate-half form (Su et al. 2021, RoFormer; HF
// apply_rotary_pos_emb) and im2col (Chellapilla et al. 2006) so convolution becomes one GEMM.

@inline function at(base: usize, i: i32): usize { return base + <usize>(i << 2); }

// x, out [rows = B·T, H, D]; cos, sin [T, D/2] (row t for position t). Rows [r0, r1); row r has position r % T.
// out[i] = x[i]·c − x[i+D/2]·s, out[i+D/2] = x[i+D/2]·c + x[i]·s; sign = −1 applies the inverse rotation (bwd).
export function rope(r0: i32, r1: i32, T: i32, H: i32, D: i32, x: usize, cos: usize, sin: usize, sign: f32, out: usize): void {
  const half = D >> 1;
  const sg = f32x4.splat(sign);
  for (let r = r0; r < r1; r++) {
    const t = r % T;
    const c = at(cos, t * half), s = at(sin, t * half);
    for (let h = 0; h < H; h++) {
      const base = <usize>(r * H + h) * <usize>D * 4;
      const x1 = x + base, x2 = x1 + <usize>(half << 2), o1 = out + base, o2 = o1 + <usize>(half << 2);
      let i = 0;
      for (; i + 4 <= half; i += 4) {
        const a = v128.load(at(x1, i)), b = v128.load(at(x2, i));
        const cv = v128.load(at(c, i)), sv = f32x4.mul(v128.load(at(s, i)), sg);
        v128.store(at(o1, i), f32x4.sub(f32x4.mul(a, cv), f32x4.mul(b, sv)));
        v128.store(at(o2, i), f32x4.add(f32x4.mul(b, cv), f32x4.mul(a, sv)));
      }
      for (; i < half; i++) {
        const a = load<f32>(at(x1, i)), b = load<f32>(at(x2, i));
        const cv = load<f32>(at(c, i)), sv = load<f32>(at(s, i)) * sign;
        store<f32>(at(o1, i), a * cv - b * sv);
        store<f32>(at(o2, i), b * cv + a * sv);
      }
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
