// The basic layers: Linear, Embedding, LayerNorm, RMSNorm, Conv1d, Conv2d. Parameter names and shapes
// follow PyTorch (`weight` [out, in], `bias` [out]) so Hugging Face checkpoints map onto them directly.

import type { Rng } from '../tensor/ops/creation.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { conv1d, conv2d, embedding, layerNorm, linear, rmsNorm } from '../tensor/index.ts';
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
