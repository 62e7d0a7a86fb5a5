// @ts-nocheck — AssemblyScript source, compiled by asc (scripts/build-wasm.mjs), not by tsc.
// Fused scaled-dot-product attention, FlashAttention style (Dao et al. 2022; Milakov & Gimelshein 2018 online
// softmax): per query row, keys are visited in tiles of TILE scores, the running max / sum rescale the output,
// and only logsumexp is saved for the backward. Never more than TILE scores exist at once.
// Layouts: q, out [B, T, H, D]; k, v [B, S, Hkv, D] (grouped heads: query head h reads kv head h / (H / Hkv),
// as HF repeat_kv); lse [B, H, T]; keyMask (optional, 0 = none) i32 [B, S], nonzero = attend.
// Causal: query i (of T, the last T of S positions) sees keys j ≤ i + S − T.
import { vexp, hsum } from './vmath';

const TILE = 64;

@inline function at(base: usize, i: i32): usize { return base + <usize>(i << 2); }

function dotD(a: usize, b: usize, n: i32): f32 {
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) acc = f32x4.add(acc, f32x4.mul(v128.load(at(a, i)), v128.load(at(b, i))));
  let s = hsum(acc);
  for (; i < n; i++) s += load<f32>(at(a, i)) * load<f32>(at(b, i));
  return s;
}

// y = y·c + a·x over n floats
function axpby(y: usize, c: f32, a: f32, x: usize, n: i32): void {
  const cv = f32x4.splat(c), av = f32x4.splat(a);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(at(y, i), f32x4.add(f32x4.mul(v128.load(at(y, i)), cv), f32x4.mul(v128.load(at(x, i)), av)));
  for (; i < n; i++) store<f32>(at(y, i), load<f32>(at(y, i)) * c + a * load<f32>(at(x, i)));
}

@inline function keyLimit(i: i32, T: i32, S: i32, causal: i32): i32 {
  return causal != 0 ? min(S, i + S - T + 1) : S;
}

// Rows are dealt round-robin in blocks of 16 (worker w of nw) so causal rows of different cost balance out.
export function attnFwd(w: i32, nw: i32, B: i32, T: i32, S: i32, H: i32, Hkv: i32, D: i32, scale: f32, causal: i32,
                        q: usize, k: usize, v: usize, keyMask: usize, out: usize, lse: usize, scratch: usize): void {
  const group = H / Hkv;
  const scores = scratch, acc = scratch + <usize>(TILE * 4);
  const units = B * H * T;
  for (let blk = w * 16; blk < units; blk += nw * 16) {
    for (let u = blk; u < min(units, blk + 16); u++) {
      const i = u % T, h = (u / T) % H, b = u / (T * H);
      const kvh = h / group;
      const qrow = q + ((<usize>(b * T + i) * <usize>H + <usize>h) * <usize>D) * 4;
      const jEnd = keyLimit(i, T, S, causal);
      let m: f32 = -Infinity, l: f32 = 0;
      memory.fill(acc, 0, <usize>D * 4);
      for (let j0 = 0; j0 < jEnd; j0 += TILE) {
        const n = min(TILE, jEnd - j0);
        let mt: f32 = -Infinity;
        for (let t = 0; t < n; t++) {
          const j = j0 + t;
          let s: f32 = -Infinity;
          if (keyMask == 0 || load<i32>(at(keyMask, b * S + j)) != 0) {
            s = scale * dotD(qrow, k + ((<usize>(b * S + j) * <usize>Hkv + <usize>kvh) * <usize>D) * 4, D);
          }
          store<f32>(at(scores, t), s);
          mt = max(mt, s);
        }
        if (mt == -Infinity) continue;
        const mNew = max(m, mt);
        const corr = m == -Infinity ? <f32>0 : f32x4.extract_lane(vexp(f32x4.splat(m - mNew)), 0);
        l *= corr;
        let first = true;
        for (let t = 0; t < n; t++) {
          const s = load<f32>(at(scores, t));
          if (s == -Infinity) continue;
          const p = f32x4.extract_lane(vexp(f32x4.splat(s - mNew)), 0);
          l += p;
          axpby(acc, first ? corr : 1, p, v + ((<usize>(b * S + j0 + t) * <usize>Hkv + <usize>kvh) * <usize>D) * 4, D);
          first = false;
        }
        m = mNew;
      }
      const orow = out + ((<usize>(b * T + i) * <usize>H + <usize>h) * <usize>D) * 4;
      const lrow = at(lse, (b * H + h) * T + i);
      if (l == 0) {
        memory.fill(orow, 0, <usize>D * 4);
        store<f32>(lrow, Infinity); // fully masked row: p = exp(s − ∞) = 0 in the backward
      } else {
        memory.fill(orow, 0, <usize>D * 4);
        axpby(orow, 0, <f32>1 / l, acc, D);
        store<f32>(lrow, m + Mathf.log(l));
      }
    }
  }
}

// Backward per (b, kv head) unit u in [u0, u1): owns dK, dV of that kv head and dQ of its query heads, so
// units never write the same memory. p = exp(s − lse); dV += p dO; ds = p (dO·v − Σ dO⊙O); dQ += ds k; dK += ds q.
export function attnBwd(u0: i32, u1: i32, B: i32, T: i32, S: i32, H: i32, Hkv: i32, D: i32, scale: f32, causal: i32,
                        q: usize, k: usize, v: usize, keyMask: usize, out: usize, lse: usize, dout: usize,
                        dq: usize, dk: usize, dv: usize): void {
  const group = H / Hkv;
  const dBytes = <usize>D * 4;
  for (let u = u0; u < u1; u++) {
    const b = u / Hkv, kvh = u % Hkv;
    for (let j = 0; j < S; j++) {
      const off = ((<usize>(b * S + j) * <usize>Hkv + <usize>kvh) * <usize>D) * 4;
      memory.fill(dk + off, 0, dBytes);
      memory.fill(dv + off, 0, dBytes);
    }
    for (let g = 0; g < group; g++) {
      const h = kvh * group + g;
      for (let i = 0; i < T; i++) {
        const rowOff = ((<usize>(b * T + i) * <usize>H + <usize>h) * <usize>D) * 4;
        const qrow = q + rowOff, gro = dout + rowOff, dqrow = dq + rowOff;
        memory.fill(dqrow, 0, dBytes);
        const L = load<f32>(at(lse, (b * H + h) * T + i));
        if (L == Infinity) continue;
        const Di = dotD(gro, out + rowOff, D);
        const jEnd = keyLimit(i, T, S, causal);
        for (let j = 0; j < jEnd; j++) {
          if (keyMask != 0 && load<i32>(at(keyMask, b * S + j)) == 0) continue;
          const kvOff = ((<usize>(b * S + j) * <usize>Hkv + <usize>kvh) * <usize>D) * 4;
          const s = scale * dotD(qrow, k + kvOff, D);
          const p = f32x4.extract_lane(vexp(f32x4.splat(s - L)), 0);
          axpby(dv + kvOff, 1, p, gro, D);
          const ds = p * (dotD(gro, v + kvOff, D) - Di) * scale;
          axpby(dqrow, 1, ds, k + kvOff, D);
          axpby(dk + kvOff, 1, ds, qrow, D);
        }
      }
    }
  }
}
