// DeepSeek-VL-hybrid's high-resolution projection (transformers `DeepseekVLSamVisionProj`): a SAM feature map
// [B, O, g, g] is resized bilinearly (align_corners=False) to 4o×4o, where o is the low-res SigLIP grid side,
// then two conv3x3 with stride 2 and padding 1 (no bias, no activation) bring it to [B, 4·O, o, o], aligned
// with the SigLIP patches. The resize is two matmuls with fixed interpolation matrices, so gradients flow through
// it with no extra kernel.
//
// Shapes: B images, O channels, h×w input, ho×wo output, o low-res grid side.

import { Conv2d } from '../../nn/layers.ts';
import { Module } from '../../nn/module.ts';
import { matmul, tensor, type Tensor } from '../../tensor/index.ts';

/**
 * [out, in] weights of 1-D linear interpolation as torch computes it for align_corners=False with an explicit
 * size: source = (dst + 0.5)·in/out − 0.5, clamped at 0, blended between floor(source) and the next index
 * (the last index repeats at the edge).
 */
export function linearInterpolationMatrix(inSize: number, outSize: number): Tensor {
  if (!(Number.isInteger(inSize) && Number.isInteger(outSize) && inSize > 0 && outSize > 0)) {
    throw new Error(`bilinear resize: sizes must be positive integers, got ${inSize} → ${outSize}`);
  }
  const m = new Float32Array(outSize * inSize), scale = inSize / outSize;
  for (let d = 0; d < outSize; d++) {
    const src = Math.max(0, scale * (d + 0.5) - 0.5);
    const i0 = Math.min(Math.floor(src), inSize - 1), i1 = Math.min(i0 + 1, inSize - 1);
    const l1 = src - i0;
    m[d * inSize + i0] += 1 - l1;
    m[d * inSize + i1] += l1;
  }
  return tensor(m, { shape: [outSize, inSize] });
}

/** torch.nn.functional.interpolate(x, size, mode="bilinear", align_corners=False). x [B, O, h, w] → [B, O, ho, wo] */
export function bilinearResize(x: Tensor, outH: number, outW: number): Tensor {
  if (x.ndim !== 4) throw new Error(`bilinear resize: input must be [B, C, H, W], got [${x.shape.join(', ')}]`);
  const ah = linearInterpolationMatrix(x.shape[2]!, outH), aw = linearInterpolationMatrix(x.shape[3]!, outW);
  return matmul(matmul(ah.to(x.dtype), x), aw.to(x.dtype).transpose(0, 1)); // [B, O, ho, wo]
}

export class HighResProjection extends Module {
  conv1: Conv2d;
  conv2: Conv2d;
  /** `outputSize` is o, the low-res grid side. */
  constructor(channels: number, readonly outputSize: number) {
    super();
    this.conv1 = new Conv2d(channels, 2 * channels, 3, { stride: 2, padding: 1, bias: false });
    this.conv2 = new Conv2d(2 * channels, 4 * channels, 3, { stride: 2, padding: 1, bias: false });
  }
  /** [B, O, g, g] → [B, 4·O, o, o] */
  forward(x: Tensor): Tensor {
    const side = 4 * this.outputSize;
    return this.conv2.forward(this.conv1.forward(bilinearResize(x, side, side)));
  }
}
