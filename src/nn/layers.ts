// The basic layers: Linear, Embedding, LayerNorm, RMSNorm, Conv1d, Conv2d. Parameter names and shapes
// follow PyTorch (`weight` [out, in], `bias` [out]) so Hugging Face checkpoints map onto them directly.

import type { Rng } from '../tensor/ops/creation.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { concat, conv1d, conv2d, embedding, isGradEnabled, layerNorm, linear, rmsNorm, slice, zeros } from '../tensor/index.ts';
import { kaimingUniformInit, normalInit, onesInit, zerosInit, type Init } from './init.ts';
import { Module, parameter, type Parameter } from './module.ts';

export interface LinearOptions { bias?: boolean; init?: Init; rng?: Rng }

export class Linear extends Module {
  weight: Parameter;
  bias: Parameter | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LinearOptions = {}) {
    super();
    const init = opts.init ?? kaimingUniformInit(inFeatures, opts.rng);
    this.weight = parameter([outFeatures, inFeatures], init);
    this.bias = opts.bias === false ? null : parameter([outFeatures], opts.init ? zerosInit : kaimingUniformInit(inFeatures, opts.rng));
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/** Fewer rows than this run each layer alone: stacking copies the weights once, a product reads them per row. */
const STACK_ROWS = 16;

/**
 * x through several Linear layers that read the same input (q, k, v; gate and up) as one product against their
 * weights stacked, then sliced per layer: while training, the backward then runs two products instead of two
 * per layer and the input's gradient needs no sum (the slices' gradients are gathered by one concat). Equal to
 * [l.forward(x) for l in layers] up to rounding. Plain Linears only (LoRA and other subclasses run alone),
 * and not for inference or a few rows (a decode step), where stacking would copy the weights per call.
 */
export function stackedLinear(x: Tensor, layers: readonly Linear[]): Tensor[] {
  const rows = x.size / x.shape[x.ndim - 1]!;
  if (!isGradEnabled() || rows < STACK_ROWS || layers.length < 2 || layers.some((l) => l.constructor !== Linear)) {
    return layers.map((l) => l.forward(x));
  }
  const weight = concat(layers.map((l) => l.weight), 0);
  const bias = layers.some((l) => l.bias)
    ? concat(layers.map((l) => l.bias ?? zeros([l.outFeatures], l.weight.dtype)), 0)
    : null;
  const y = linear(x, weight, bias);
  let at = 0;
  return layers.map((l) => slice(y, -1, at, (at += l.outFeatures)));
}

export class Embedding extends Module {
  weight: Parameter;
  constructor(readonly numEmbeddings: number, readonly dim: number, readonly paddingIdx: number | null = null, init?: Init) {
    super();
    this.weight = parameter([numEmbeddings, dim], init ?? normalInit(1));
    if (paddingIdx !== null) (this.weight.storage as Float32Array).fill(0, paddingIdx * dim, (paddingIdx + 1) * dim);
  }
  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids, this.paddingIdx);
  }
}

export class LayerNorm extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  constructor(readonly dim: number, readonly eps = 1e-5, affine = true) {
    super();
    this.weight = affine ? parameter([dim], onesInit) : null;
    this.bias = affine ? parameter([dim], zerosInit) : null;
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

export class RMSNorm extends Module {
  weight: Parameter;
  constructor(readonly dim: number, readonly eps = 1e-6) {
    super();
    this.weight = parameter([dim], onesInit);
  }
  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

export interface ConvOptions { stride?: number; padding?: number; bias?: boolean; rng?: Rng }

export class Conv1d extends Module {
  weight: Parameter;
  bias: Parameter | null;
  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernelSize: number, readonly opts: ConvOptions = {}) {
    super();
    const fanIn = inChannels * kernelSize;
    this.weight = parameter([outChannels, inChannels, kernelSize], kaimingUniformInit(fanIn, opts.rng));
    this.bias = opts.bias === false ? null : parameter([outChannels], kaimingUniformInit(fanIn, opts.rng));
  }
  forward(x: Tensor): Tensor {
    return conv1d(x, this.weight, this.bias, { stride: this.opts.stride ?? 1, padding: this.opts.padding ?? 0 });
  }
}

export class Conv2d extends Module {
  weight: Parameter;
  bias: Parameter | null;
  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernelSize: number, readonly opts: ConvOptions = {}) {
    super();
    const fanIn = inChannels * kernelSize * kernelSize;
    this.weight = parameter([outChannels, inChannels, kernelSize, kernelSize], kaimingUniformInit(fanIn, opts.rng));
    this.bias = opts.bias === false ? null : parameter([outChannels], kaimingUniformInit(fanIn, opts.rng));
  }
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.opts.stride ?? 1, padding: this.opts.padding ?? 0 });
  }
}
