// A small seeded PRNG (splitmix32) and the draws the generator needs. Every record gets its own stream,
// forked from (seed, task, index) by hashing, so records can be generated in any order or in parallel and a
// given seed always yields the same bytes. splitmix32 follows Vigna's splitmix64 with 32-bit constants
// (the "mulberry/splitmix32" family); statistical quality is ample for drawing scenes.

/** 32-bit FNV-1a of a string: turns task names and labels into seed material. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A stream for one named purpose under a seed: `Rng.fork(7, 'vqa-color', 12)`. */
  static fork(seed: number, ...labels: (string | number)[]): Rng {
    let h = (seed >>> 0) ^ 0x9e3779b9;
    for (const l of labels) h = mix32((h ^ hashString(String(l))) >>> 0);
    return new Rng(h);
  }

  /** Next uint32. */
  nextU32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    return mix32(this.state);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  bool(p = 0.5): boolean {
    return this.next() < p;
  }

  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('Rng.pick: empty list');
    return xs[Math.floor(this.next() * xs.length)] as T;
  }

  /** Standard normal by Box-Muller. */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(xs: readonly T[]): T[] {
    const out = xs.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = out[i] as T;
      out[i] = out[j] as T;
      out[j] = t;
    }
    return out;
  }

  /** k distinct items, in random order. */
  sample<T>(xs: readonly T[], k: number): T[] {
    if (k > xs.length) throw new Error(`Rng.sample: asked for ${k} of ${xs.length}`);
    return this.shuffle(xs).slice(0, k);
  }
}

function mix32(x: number): number {
  let z = x >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}
