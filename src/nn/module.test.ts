// Module: dotted parameter names from nested modules and arrays, stateDict/loadStateDict round trips,
// loadStateDict errors that name the offending keys, freeze(), train()/eval().

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Embedding, Linear, RMSNorm } from './layers.ts';
import { Module, Parameter, parameter } from './module.ts';
import { Rng, tensor, type Tensor } from '../tensor/index.ts';
import { normalInit } from './init.ts';

class Attention extends Module {
  q: Linear;
  o: Linear;
  constructor(d: number, rng: Rng) {
    super();
    this.q = new Linear(d, d, { rng });
    this.o = new Linear(d, d, { bias: false, rng });
  }
}

class Block extends Module {
  attn: Attention;
  norm = new RMSNorm(4);
  constructor(rng: Rng) {
    super();
    this.attn = new Attention(4, rng);
  }
  forward(x: Tensor): Tensor {
    return x.add(this.attn.o.forward(this.attn.q.forward(this.norm.forward(x)).silu()));
  }
}

class Net extends Module {
  embed: Embedding;
  layers: Block[];
  scale: Parameter;
  head: Linear;
  constructor(seed: number) {
    super();
    const rng = new Rng(seed);
    this.embed = new Embedding(6, 4, null, normalInit(1, rng));
    this.layers = [new Block(rng), new Block(rng)];
    this.scale = parameter([1], () => 1);
    this.head = new Linear(4, 6, { bias: false, rng });
  }
  forward(ids: Tensor): Tensor {
    let h = this.embed.forward(ids);
    for (const b of this.layers) h = b.forward(h);
    return this.head.forward(h.mul(this.scale));
  }
}

const ids = tensor([[1, 2, 5]], { dtype: 'int32' });

test('parameter names are dotted paths through fields and arrays, in field order', () => {
  const names = [...new Net(1).namedParameters()].map(([n]) => n);
  assert.deepEqual(names, [
    'embed.weight',
    'layers.0.attn.q.weight', 'layers.0.attn.q.bias', 'layers.0.attn.o.weight', 'layers.0.norm.weight',
    'layers.1.attn.q.weight', 'layers.1.attn.q.bias', 'layers.1.attn.o.weight', 'layers.1.norm.weight',
    'scale', 'head.weight',
  ]);
  const net = new Net(1);
  assert.equal(net.numParameters(), 6 * 4 + 2 * (16 + 4 + 16 + 4) + 1 + 24);
  assert.deepEqual([...net.namedModules()].map(([n]) => n).slice(0, 4), ['', 'embed', 'layers.0', 'layers.0.attn']);
});

test('stateDict → loadStateDict copies values (not storage) and reproduces the forward', () => {
  const a = new Net(1), b = new Net(2);
  assert.notDeepEqual(b.forward(ids).toList(), a.forward(ids).toList());
  const bParams = b.parameters();
  b.loadStateDict(a.stateDict());
  assert.deepEqual(b.forward(ids).toList(), a.forward(ids).toList());
  // the same Parameter objects (optimisers holding them stay valid), with their own storage
  b.parameters().forEach((p, i) => assert.equal(p, bParams[i]));
  (a.head.weight.storage as Float32Array)[0] = 99;
  assert.notEqual(b.head.weight.toList()[0], 99);
});

test('loadStateDict accepts checkpoint-shaped data in other dtypes', () => {
  const net = new Net(1);
  const sd = new Map([...net.stateDict()].map(([k, p]) => [k, { dtype: 'float64' as const, shape: p.shape, data: Float64Array.from(p.toList(), (v) => v + 1) }]));
  const before = net.head.weight.toList();
  net.loadStateDict(sd);
  assert.deepEqual(net.head.weight.toList(), before.map((v) => Math.fround(v + 1)));
});

test('loadStateDict names missing, unexpected and mis-shaped keys', () => {
  const net = new Net(1);
  const sd = new Map<string, Tensor>(net.stateDict());
  sd.delete('layers.1.norm.weight');
  sd.set('layers.2.norm.weight', tensor([1, 1, 1, 1]));
  sd.set('head.weight', tensor(new Float32Array(20), { shape: [5, 4] }));
  assert.throws(() => net.loadStateDict(sd, { source: 'ckpt.safetensors' }), (e: Error) => {
    assert.match(e.message, /ckpt\.safetensors/);
    assert.match(e.message, /missing 1 key\(s\): layers\.1\.norm\.weight/);
    assert.match(e.message, /unexpected 1 key\(s\): layers\.2\.norm\.weight/);
    assert.match(e.message, /head\.weight: checkpoint \[5, 4\] vs model \[6, 4\]/);
    return true;
  });
  // non-strict tolerates missing and unexpected keys, never a wrong shape
  assert.throws(() => net.loadStateDict(sd, { strict: false }), /head\.weight/);
  sd.delete('head.weight');
  const before = net.layers[1]!.norm.weight.toList();
  net.loadStateDict(sd, { strict: false });
  assert.deepEqual(net.layers[1]!.norm.weight.toList(), before);
});

test('freeze() stops gradients for that part only; freeze(false) restores them', () => {
  const net = new Net(1);
  net.layers[0]!.freeze();
  net.forward(ids).sum().backward();
  for (const [name, p] of net.namedParameters()) {
    if (name.startsWith('layers.0.')) assert.equal(p.grad, null, `${name} is frozen`);
    else assert.ok(p.grad, `${name} should have a grad`);
  }
  net.zeroGrad();
  assert.ok(net.parameters().every((p) => p.grad === null));
  net.layers[0]!.freeze(false);
  net.forward(ids).sum().backward();
  assert.ok(net.layers[0]!.attn.q.weight.grad);
});

test('train()/eval() reach every submodule', () => {
  const net = new Net(1).eval();
  assert.ok([...net.namedModules()].every(([, m]) => !m.training));
  net.train();
  assert.ok(net.layers[1]!.attn.q.training);
});

test('a Parameter must be contiguous', () => {
  assert.throws(() => new Parameter(tensor([[1, 2], [3, 4]]).T), /contiguous/);
});
