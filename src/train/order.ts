// The order in which a run sees its samples, as a pure function of (seed, state): each source is shuffled
// afresh every epoch by a Fisher–Yates permutation seeded from (seed, source, epoch), and a mix of sources
// picks the source of draw k from a generator seeded by (seed, k) in proportion to the weights. The state is
// three small numbers per source, so a checkpoint records it exactly and a resumed run continues the same
// sequence as an uninterrupted one.

import { Rng } from '../tensor/index.ts';

export interface OrderState {
  /** Samples drawn so far over all sources. */
  drawn: number;
  /** Per source: the current epoch and the position inside its permutation. */
  sources: { epoch: number; cursor: number }[];
}

export interface Draw {
  source: number;
  index: number;
}

export class DataOrder {
  private state: OrderState;
  private readonly perms = new Map<string, Uint32Array>();
  private readonly cumulative: number[];

  constructor(readonly sizes: readonly number[], readonly weights: readonly number[], readonly seed: number, state?: OrderState) {
    if (sizes.length === 0 || sizes.length !== weights.length) throw new Error(`DataOrder: ${sizes.length} sources for ${weights.length} weights`);
    sizes.forEach((n, i) => { if (!(n > 0)) throw new Error(`DataOrder: data source ${i} has no samples`); });
    const total = weights.reduce((a, b) => a + b, 0);
    let acc = 0;
    this.cumulative = weights.map((w) => (acc += w / total));
    this.state = state ? checkState(state, sizes.length) : { drawn: 0, sources: sizes.map(() => ({ epoch: 0, cursor: 0 })) };
  }

  /** The next draw; advances the state. */
  next(): Draw {
    const source = this.pickSource();
    const s = this.state.sources[source]!;
    const index = this.permutation(source, s.epoch)[s.cursor]!;
    s.cursor++;
    if (s.cursor === this.sizes[source]) {
      this.perms.delete(`${source}/${s.epoch}`);
      s.epoch++;
      s.cursor = 0;
    }
    this.state.drawn++;
    return { source, index };
  }

  take(n: number): Draw[] {
    return Array.from({ length: n }, () => this.next());
  }

  /** A copy of the state, for a checkpoint. */
  snapshot(): OrderState {
    return { drawn: this.state.drawn, sources: this.state.sources.map((s) => ({ ...s })) };
  }

  private pickSource(): number {
    if (this.sizes.length === 1) return 0;
    const u = new Rng(mix(this.seed, 0x5bd1e995, this.state.drawn)).next();
    const i = this.cumulative.findIndex((c) => u < c);
    return i < 0 ? this.sizes.length - 1 : i;
  }

  private permutation(source: number, epoch: number): Uint32Array {
    const key = `${source}/${epoch}`;
    let p = this.perms.get(key);
    if (!p) {
      const n = this.sizes[source]!, rng = new Rng(mix(this.seed, source, epoch));
      p = new Uint32Array(n);
      for (let i = 0; i < n; i++) p[i] = i;
      for (let i = n - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        const t = p[i]!; p[i] = p[j]!; p[j] = t;
      }
      this.perms.set(key, p);
    }
    return p;
  }
}

/** A 32-bit hash of three integers (so nearby seeds/epochs give unrelated streams). */
function mix(a: number, b: number, c: number): number {
  let h = 0x811c9dc5;
  for (const v of [a, b, c]) {
    h = Math.imul(h ^ (v & 0xffffffff), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    h = (h ^ Math.floor(v / 4294967296)) >>> 0;
  }
  return h;
}

function checkState(s: OrderState, n: number): OrderState {
  if (!s || !Number.isInteger(s.drawn) || !Array.isArray(s.sources) || s.sources.length !== n) {
    throw new Error(`data order state does not fit ${n} source(s): ${JSON.stringify(s)?.slice(0, 200)}`);
  }
  return { drawn: s.drawn, sources: s.sources.map((x) => ({ epoch: x.epoch, cursor: x.cursor })) };
}
