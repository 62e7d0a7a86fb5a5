// DeepSeek-VL-hybrid (Lu et al. 2024; transformers `DeepseekVLHybridForConditionalGeneration`): DeepSeek-VL's
// SigLIP low-res tower plus a SAM ViT high-res tower. The high-res features are
//   proj(sam_neck(last layer)) + high_res_vision_alpha · proj(high_res_vision_neck(sam_hidden_states[gi + 1]))
// with gi = global_attn_indexes[0], the two necks having separate weights and `proj` (`high_res_vision_proj`:
// bilinear resize to 4o×4o, two stride-2 conv3x3) shared; flattened channels-last they line up with the o×o SigLIP
// patches. The aligner then mixes both branches (high-res half first) before the Llama decoder, as DeepSeek-VL.
// Checkpoints use the runtime names (`model.high_res_vision_model.vision_encoder.*`, `model.high_res_vision_neck.*`,
// `model.high_res_vision_proj.*`, `model.high_res_vision_alpha`, plus DeepSeek-VL's).
// The splice, head, forward (with loss) and greedy generate are the shared ones of ./vlm.ts.
//
// Shapes: B batch, T tokens, I images, g SAM grid, O SAM neck channels, o SigLIP grid, N = o², C text width.

import type { Linear } from '../../nn/layers.ts';
import { Module, parameter, type Parameter } from '../../nn/module.ts';
import { zerosInit } from '../../nn/init.ts';
import type { Tensor } from '../../tensor/index.ts';
import { ConfigReader, type Json } from '../../io/hf/config.ts';
import { loadCheckpointInto } from '../../io/hf/llava-weights.ts';
import { DecoderModel } from '../llm/decoder.ts';
import type { GreedyResult } from '../llm/generate.ts';
import { DeepseekHybridAligner } from '../projector/deepseek-aligner.ts';
import { HighResProjection } from '../projector/deepseek-high-res.ts';
import { gridSize } from '../vision/vit/config.ts';
import { SiglipVisionTower } from '../vision/vit/siglip.ts';
import { parseSamVitConfig, SamNeck, SamVisionModel, type SamOutput, type SamVitConfig } from '../vision/sam.ts';
import { registerModel, type LoadedModel, type NamedTensors } from '../registry.ts';
import { deepseekRuntimeName, parseDeepseekVlConfig, siglipFeatures, type DeepseekVlConfig, type SiglipFeatures } from './deepseek-vl.ts';
import { DecoderVlm, lmHead, namedVlmInput, vlmEntryPoints, type DecoderVlmInput, type ImageRows } from './vlm.ts';

export interface DeepseekVlHybridConfig extends DeepseekVlConfig {
  readonly highRes: SamVitConfig;
}

export function parseDeepseekVlHybridConfig(json: Json, where = 'config.json'): DeepseekVlHybridConfig {
  const base = parseDeepseekVlConfig(json, where);
  const highRes = parseSamVitConfig(new ConfigReader(json, where).child('high_res_vision_config').obj, `${where}:high_res_vision_config`);
  if (highRes.globalAttnIndexes.length === 0) throw new Error(`${where}:high_res_vision_config: global_attn_indexes is empty; the global branch needs one`);
  return Object.freeze({ ...base, highRes });
}

export interface HybridImageFeatures extends ImageRows {
  readonly low: SiglipFeatures;
  readonly sam: SamOutput;
  /** [I, O, g, g] high_res_vision_neck(sam_hidden_states[gi + 1]). */
  readonly globalNeck: Tensor;
  /** [I, 4·O, o, o] */
  readonly projOfLast: Tensor;
  /** [I, 4·O, o, o] */
  readonly projOfGlobal: Tensor;
  /** [I, N, 4·O] */
  readonly highRes: Tensor;
}

export interface HybridInput extends DecoderVlmInput {
  highResPixelValues?: Tensor | null;
}

class HybridBody extends Module {
  vision_model: SiglipVisionTower;
  high_res_vision_model: SamVisionModel;
  high_res_vision_neck: SamNeck;
  high_res_vision_proj: HighResProjection;
  high_res_vision_alpha: Parameter;
  aligner: DeepseekHybridAligner;
  language_model: DecoderModel;
  constructor(cfg: DeepseekVlHybridConfig) {
    super();
    this.vision_model = new SiglipVisionTower(cfg.vision);
    this.high_res_vision_model = new SamVisionModel(cfg.highRes);
    this.high_res_vision_neck = new SamNeck(cfg.highRes);
    this.high_res_vision_proj = new HighResProjection(cfg.highRes.outputChannels, gridSize(cfg.vision));
    this.high_res_vision_alpha = parameter([1], zerosInit);
    this.aligner = new DeepseekHybridAligner(cfg.vision.hiddenSize, 4 * cfg.highRes.outputChannels, cfg.text.hiddenSize);
    this.language_model = new DecoderModel(cfg.text);
  }
}

export class DeepseekVlHybrid extends DecoderVlm<HybridInput, HybridImageFeatures> {
  model: HybridBody;
  lm_head: Linear | null;
  constructor(readonly cfg: DeepseekVlHybridConfig) {
    super({ model: 'deepseek-vl-hybrid', imageTokens: 'image tokens' });
    this.model = new HybridBody(cfg);
    this.lm_head = lmHead(cfg.text);
  }

  /** low-res pixels [I, 3, H, W] and high-res pixels [I, 3, Hs, Ws] → every stage of the two branches. */
  imageFeatures(pixels: Tensor, highResPixels: Tensor): HybridImageFeatures {
    if (pixels.shape[0] !== highResPixels.shape[0]) {
      throw new Error(`deepseek-vl-hybrid: pixel_values has ${pixels.shape[0]} images but high_res_pixel_values ${highResPixels.shape[0]}`);
    }
    const m = this.model;
    const low = siglipFeatures(m.vision_model, pixels);
    const sam = m.high_res_vision_model.forward(highResPixels);
    const globalNeck = m.high_res_vision_neck.forward(sam.hiddenStates[this.cfg.highRes.globalAttnIndexes[0]! + 1]!);
    const projOfLast = m.high_res_vision_proj.forward(sam.lastHiddenState);
    const projOfGlobal = m.high_res_vision_proj.forward(globalNeck);
    const [I, Ch] = projOfLast.shape as [number, number, number, number];
    const highRes = projOfLast.add(projOfGlobal.mul(m.high_res_vision_alpha)).permute(0, 2, 3, 1).reshape([I, -1, Ch]); // [I, N, 4·O]
    if (highRes.shape[1] !== low.lastHiddenState.shape[1]) {
      throw new Error(`deepseek-vl-hybrid: ${highRes.shape[1]} high-res cells do not match ${low.lastHiddenState.shape[1]} SigLIP patches`);
    }
    return { low, sam, globalNeck, projOfLast, projOfGlobal, highRes, projected: m.aligner.forward(low.lastHiddenState, highRes) };
  }

  get decoder(): DecoderModel {
    return this.model.language_model;
  }

  protected imagesOf(input: HybridInput): HybridImageFeatures | null {
    const { pixelValues: pixels, highResPixelValues: highRes } = input;
    if (!pixels && !highRes) return null;
    if (!pixels || !highRes) throw new Error('deepseek-vl-hybrid: give both pixel_values and high_res_pixel_values, or neither');
    return this.imageFeatures(pixels, highRes);
  }

  /** Greedy continuation (left padding as transformers generate) and the raw logits of each step. */
  generate(inputIds: Tensor, pixelValues: Tensor | null, highResPixelValues: Tensor | null, attentionMask: Tensor | null, maxNewTokens: number): GreedyResult {
    return this.greedy({ inputIds, pixelValues, highResPixelValues, attentionMask }, maxNewTokens);
  }
}

export function loadDeepseekVlHybrid(dir: string, config: Record<string, unknown>): LoadedModel & { module: DeepseekVlHybrid } {
  const module = new DeepseekVlHybrid(parseDeepseekVlHybridConfig(config, `${dir}/config.json`));
  const report = loadCheckpointInto(module, dir, deepseekRuntimeName, new Set(['lm_head.weight']));
  module.eval();
  const toInput = (inputs: NamedTensors, what: string): HybridInput => ({ ...namedVlmInput(inputs, what), highResPixelValues: inputs.get('high_res_pixel_values') ?? null });
  return {
    modelType: 'deepseek_vl_hybrid', dir, config, module, ...vlmEntryPoints('deepseek-vl-hybrid', module, toInput),
    checkpointKey: (name) => report.keyOf.get(name) ?? name,
  };
}

registerModel(['deepseek_vl_hybrid'], loadDeepseekVlHybrid);
