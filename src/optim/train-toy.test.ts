// Proof that the pieces train together: a tiny Llama-style LM (RMSNorm, RoPE rotate-half, causal GQA
// attention, SwiGLU, untied head) built from the nn parts, trained with AdamW (decay off for norms),
// warm-up + cosine, and gradient clipping on a fixed periodic token stream. The stream repeats a seeded
// random pattern in which tokens recur, so the next token depends on more than the current one and the
// model has to use attention and positions to drive the loss down.
//
// Shapes: B batch, T tokens, C model dim, H query heads, Hkv key/value heads, D head dim, V vocab.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamW } from './adamw.ts';
import { clipGradNorm } from './clip.ts';
import { lrAt } from './schedule.ts';
import { Embedding, Linear, RMSNorm } from '../nn/layers.ts';
import { Module } from '../nn/module.ts';
import { normalInit } from '../nn/init.ts';
import { applyRope, crossEntropy, Rng, scaledDotProductAttention, tensor, type Tensor } from '../tensor/index.ts';

interface ToyConfig { vocab: number; dim: number; layers: number; heads: number; kvHeads: number; ffn: number; ropeTheta: number }

class Attention extends Module {
  q: Linear; k: Linear; v: Linear; o: Linear;
  constructor(readonly cfg: ToyConfig, rng: Rng) {
    super();
    const D = cfg.dim / cfg.heads;
    this.q = new Linear(cfg.dim, cfg.heads * D, { bias: false, rng });
    this.k = new Linear(cfg.dim, cfg.kvHeads * D, { bias: false, rng });
    this.v = new Linear(cfg.dim, cfg.kvHeads * D, { bias: false, rng });
    this.o = new Linear(cfg.heads * D, cfg.dim, { bias: false, rng });
  }
  forward(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
    const [B, T] = x.shape as [number, number, number];
    const { heads: H, kvHeads: Hkv } = this.cfg, D = this.cfg.dim / H;
    const q = applyRope(this.q.forward(x).reshape([B, T, H, D]).transpose(1, 2), cos, sin); // [B, H, T, D]
    const k = applyRope(this.k.forward(x).reshape([B, T, Hkv, D]).transpose(1, 2), cos, sin); // [B, Hkv, T, D]
    const v = this.v.forward(x).reshape([B, T, Hkv, D]).transpose(1, 2); // [B, Hkv, T, D]
    const y = scaledDotProductAttention(q, k, v, { causal: true }); // [B, H, T, D]
    return this.o.forward(y.transpose(1, 2).reshape([B, T, H * D])); // [B, T, C]
  }
}

class SwiGLU extends Module {
  gate: Linear; up: Linear; down: Linear;
  constructor(dim: number, hidden: number, rng: Rng) {
    super();
    this.gate = new Linear(dim, hidden, { bias: false, rng });
    this.up = new Linear(dim, hidden, { bias: false, rng });
    this.down = new Linear(hidden, dim, { bias: false, rng });
  }
  forward(x: Tensor): Tensor {
    return this.down.forward(this.gate.forward(x).silu().mul(this.up.forward(x)));
  }
}

class Block extends Module {
  attnNorm: RMSNorm; attn: Attention; mlpNorm: RMSNorm; mlp: SwiGLU;
  constructor(cfg: ToyConfig, rng: Rng) {
    super();
    this.attnNorm = new RMSNorm(cfg.dim);
    this.attn = new Attention(cfg, rng);
    this.mlpNorm = new RMSNorm(cfg.dim);
    this.mlp = new SwiGLU(cfg.dim, cfg.ffn, rng);
  }
  forward(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
    const h = x.add(this.attn.forward(this.attnNorm.forward(x), cos, sin));
    return h.add(this.mlp.forward(this.mlpNorm.forward(h)));
  }
}

class ToyLlama extends Module {
  embed: Embedding; layers: Block[]; norm: RMSNorm; head: Linear;
  constructor(readonly cfg: ToyConfig, seed: number) {
    super();
    const rng = new Rng(seed);
    this.embed = new Embedding(cfg.vocab, cfg.dim, null, normalInit(1, rng));
    this.layers = Array.from({ length: cfg.layers }, () => new Block(cfg, rng));
    this.norm = new RMSNorm(cfg.dim);
    this.head = new Linear(cfg.dim, cfg.vocab, { bias: false, rng });
  }
  /** ids [B, T] → logits [B, T, V]. */
  forward(ids: Tensor): Tensor {
    const T = ids.shape[1]!;
    const { cos, sin } = ropeTables(T, this.cfg.dim / this.cfg.heads, this.cfg.ropeTheta);
    let h = this.embed.forward(ids); // [B, T, C]
    for (const block of this.layers) h = block.forward(h, cos, sin);
    return this.head.forward(this.norm.forward(h)); // [B, T, V]
  }
}

/** cos/sin [T, D] in HF's rotate-half layout: each frequency repeated for both halves. */
function ropeTables(T: number, D: number, theta: number): { cos: Tensor; sin: Tensor } {
  const cos = new Float32Array(T * D), sin = new Float32Array(T * D);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < D / 2; i++) {
      const a = t * theta ** (-(2 * i) / D);
      cos[t * D + i] = cos[t * D + i + D / 2] = Math.cos(a);
      sin[t * D + i] = sin[t * D + i + D / 2] = Math.sin(a);
    }
  }
  return { cos: tensor(cos, { shape: [T, D] }), sin: tensor(sin, { shape: [T, D] }) };
}

test('a tiny Llama learns a periodic token stream (AdamW + warm-up/cosine + clipping)', () => {
  const cfg: ToyConfig = { vocab: 32, dim: 32, layers: 2, heads: 4, kvHeads: 2, ffn: 64, ropeTheta: 10000 };
  const model = new ToyLlama(cfg, 7);
  const rng = new Rng(11);
  // the corpus: a random pattern of 24 tokens from only 12 symbols, repeated, so most tokens recur in it
  const pattern = Array.from({ length: 24 }, () => rng.int(12));
  const corpus = Array.from({ length: 400 }, (_, i) => pattern[i % pattern.length]!);
  const B = 8, T = 16, steps = 200;
  const sched = { base: 3e-3, warmup: 20, total: steps, minLr: 3e-4 };
  // norms and the embedding get no weight decay, as is usual for Llama-style training
  const named = [...model.namedParameters()];
  const noDecay = (n: string): boolean => n.includes('norm') || n.startsWith('embed');
  const opt = new AdamW([
    { params: named.filter(([n]) => !noDecay(n)), weightDecay: 0.01 },
    { params: named.filter(([n]) => noDecay(n)), weightDecay: 0 },
  ], { lr: sched.base });

  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const inputs: number[] = [], targets: number[] = [];
    for (let b = 0; b < B; b++) {
      const start = rng.int(corpus.length - T - 1);
      inputs.push(...corpus.slice(start, start + T));
      targets.push(...corpus.slice(start + 1, start + T + 1));
    }
    const logits = model.forward(tensor(inputs, { shape: [B, T], dtype: 'int32' }));
    const loss = crossEntropy(logits.reshape([B * T, cfg.vocab]), tensor(targets, { dtype: 'int32' }));
    loss.backward();
    clipGradNorm(named, 1.0);
    // step + 1: HF's schedule gives step 0 an lr of 0, which would waste the first update
    opt.scaleLr(lrAt(Math.min(step + 1, steps), sched) / sched.base);
    opt.step();
    opt.zeroGrad();
    losses.push(loss.item());
  }

  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const initial = mean(losses.slice(0, 5)), final = mean(losses.slice(-10));
  const curve = losses.filter((_, i) => i % 25 === 0 || i === steps - 1).map((l) => l.toFixed(3)).join(' ');
  console.log(`toy llama loss curve (every 25 steps): ${curve}; initial ${initial.toFixed(3)}, final ${final.toFixed(3)}, bigram entropy ${bigramEntropy(pattern).toFixed(3)}`);
  assert.ok(losses.every(Number.isFinite), 'every loss is finite');
  assert.ok(final < 0.3 * initial, `final loss ${final} should be under 0.3 × initial ${initial}`);
  assert.ok(final < Math.log(cfg.vocab) / 2, `final loss ${final} should be under ln(V)/2 = ${Math.log(cfg.vocab) / 2}`);
  // the best a model that sees only the current token can do; beating it needs attention over the context
  const bigram = bigramEntropy(pattern);
  assert.ok(final < bigram / 2, `final loss ${final} should be well under the bigram entropy ${bigram}`);
});

/** H(next | current) of the cyclic pattern, in nats. */
function bigramEntropy(pattern: readonly number[]): number {
  const counts = new Map<number, Map<number, number>>();
  pattern.forEach((a, i) => {
    const b = pattern[(i + 1) % pattern.length]!, m = counts.get(a) ?? new Map<number, number>();
    m.set(b, (m.get(b) ?? 0) + 1);
    counts.set(a, m);
  });
  let h = 0;
  for (const m of counts.values()) {
    const n = [...m.values()].reduce((x, y) => x + y, 0);
    for (const c of m.values()) h -= (c / pattern.length) * Math.log(c / n);
  }
  return h;
}
