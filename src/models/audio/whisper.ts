// Whisper encoder and decoder (Radford et al. 2022, "Robust Speech Recognition via Large-Scale Weak Supervision";
// transformers `WhisperEncoder` / `WhisperDecoder`). The encoder is two GELU convolutions over log-mel frames (the
// second halves time), a fixed sinusoidal position table stored as a weight, pre-LN transformer layers and a final
// LayerNorm. The decoder adds learned positions to token embeddings, then causal self-attention, cross-attention to
// the encoder output and an MLP per layer, and a final LayerNorm. Attention projections have biases except `k_proj`.
// The Qwen2-Audio tower reuses the encoder with a key mask and an average pool before the final norm (see
// `WhisperEncoder.forward` options).
//
// Shapes: B batch, M mel bins, F mel frames, T encoder frames (F/2), L decoder tokens, C d_model, H heads, D head dim.

import { Conv1d, Embedding, LayerNorm, Linear } from '../../nn/layers.ts';
import { Module, type Parameter } from '../../nn/module.ts';
import { mean, reshape, scaledDotProductAttention, slice, type Tensor } from '../../tensor/index.ts';

export interface WhisperConfig {
  readonly numMelBins: number;
  readonly dModel: number;
  readonly encoderLayers: number;
  readonly encoderHeads: number;
  readonly encoderFfnDim: number;
  readonly maxSourcePositions: number;
  readonly scaleEmbedding: boolean;
  /** Absent for encoder-only configs (the Qwen2-Audio tower). */
  readonly decoder: WhisperDecoderConfig | null;
}

export interface WhisperDecoderConfig {
  readonly layers: number;
  readonly heads: number;
  readonly ffnDim: number;
  readonly vocabSize: number;
  readonly maxTargetPositions: number;
  readonly padTokenId: number | null;
}

/** LayerNorm eps of every Whisper norm: transformers uses the nn.LayerNorm default. */
const layerNormEps = 1e-5;

function field(cfg: Record<string, unknown>, key: string, where: string): number {
  const v = cfg[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** Parses a Whisper (or `qwen2_audio_encoder`) config.json object; `where` names the file in errors. */
export function parseWhisperConfig(cfg: Record<string, unknown>, where = 'whisper config'): WhisperConfig {
  const act = cfg.activation_function ?? 'gelu';
  if (act !== 'gelu') throw new Error(`${where}: activation_function "${String(act)}" is not supported (only "gelu")`);
  const hasDecoder = typeof cfg.decoder_layers === 'number';
  const pad = cfg.pad_token_id;
  return Object.freeze({
    numMelBins: field(cfg, 'num_mel_bins', where),
    dModel: field(cfg, 'd_model', where),
    encoderLayers: field(cfg, 'encoder_layers', where),
    encoderHeads: field(cfg, 'encoder_attention_heads', where),
    encoderFfnDim: field(cfg, 'encoder_ffn_dim', where),
    maxSourcePositions: field(cfg, 'max_source_positions', where),
    scaleEmbedding: cfg.scale_embedding === true,
    decoder: hasDecoder ? Object.freeze({
      layers: field(cfg, 'decoder_layers', where),
      heads: field(cfg, 'decoder_attention_heads', where),
      ffnDim: field(cfg, 'decoder_ffn_dim', where),
      vocabSize: field(cfg, 'vocab_size', where),
      maxTargetPositions: field(cfg, 'max_target_positions', where),
      padTokenId: typeof pad === 'number' ? pad : null,
    }) : null,
  });
}

/** Multi-head attention as WhisperAttention: k_proj has no bias; scores scaled by D^-0.5. */
export class WhisperAttention extends Module {
  kProj: Linear;
  vProj: Linear;
  qProj: Linear;
  outProj: Linear;
  constructor(readonly dim: number, readonly heads: number) {
    super();
    if (dim % heads !== 0) throw new Error(`whisper attention: d_model ${dim} is not divisible by ${heads} heads`);
    this.kProj = new Linear(dim, dim, { bias: false });
    this.vProj = new Linear(dim, dim);
    this.qProj = new Linear(dim, dim);
    this.outProj = new Linear(dim, dim);
  }

  /** x [B, Tq, C]; keys/values from `context` [B, Tk, C] (cross-attention) or x itself. */
  forward(x: Tensor, opts: { context?: Tensor; causal?: boolean; mask?: Tensor | null } = {}): Tensor {
    const [B, Tq] = x.shape as [number, number, number];
    const ctx = opts.context ?? x;
    const Tk = ctx.shape[1]!, H = this.heads, D = this.dim / H;
    const q = this.qProj.forward(x).view(B, Tq, H, D).transpose(1, 2); // [B, H, Tq, D]
    const k = this.kProj.forward(ctx).view(B, Tk, H, D).transpose(1, 2); // [B, H, Tk, D]
    const v = this.vProj.forward(ctx).view(B, Tk, H, D).transpose(1, 2); // [B, H, Tk, D]
    const o = scaledDotProductAttention(q, k, v, { causal: opts.causal ?? false, mask: opts.mask ?? null, scale: D ** -0.5 });
    return this.outProj.forward(o.transpose(1, 2).reshape([B, Tq, this.dim])); // [B, Tq, C]
  }
}

export class WhisperEncoderLayer extends Module {
  selfAttn: WhisperAttention;
  selfAttnLayerNorm: LayerNorm;
  fc1: Linear;
  fc2: Linear;
  finalLayerNorm: LayerNorm;
  constructor(c: WhisperConfig) {
    super();
    this.selfAttn = new WhisperAttention(c.dModel, c.encoderHeads);
    this.selfAttnLayerNorm = new LayerNorm(c.dModel, layerNormEps);
    this.fc1 = new Linear(c.dModel, c.encoderFfnDim);
    this.fc2 = new Linear(c.encoderFfnDim, c.dModel);
    this.finalLayerNorm = new LayerNorm(c.dModel, layerNormEps);
  }
  forward(x: Tensor, mask: Tensor | null): Tensor {
    const h = x.add(this.selfAttn.forward(this.selfAttnLayerNorm.forward(x), { mask })); // [B, T, C]
    return h.add(this.fc2.forward(this.fc1.forward(this.finalLayerNorm.forward(h)).gelu()));
  }
}

export interface EncoderOptions {
  /** Bool key mask [B, 1, 1, T] (true = attend), as the Qwen2-Audio tower builds it from frame lengths. */
  mask?: Tensor | null;
  /** Average-pool time by this factor before the final norm (Qwen2-Audio: 2). */
  poolStride?: number;
}

export interface EncoderOutput {
  /** [B, T', C] after the final LayerNorm (T' = T / poolStride). */
  lastHiddenState: Tensor;
  /** encoderLayers + 1 entries: [0] embeddings, [i] layer i; the last one has the final norm applied, as in transformers. */
  hiddenStates: Tensor[];
}

export class WhisperEncoder extends Module {
  conv1: Conv1d;
  conv2: Conv1d;
  embedPositions: Embedding;
  layers: WhisperEncoderLayer[];
  layerNorm: LayerNorm;
  constructor(readonly config: WhisperConfig) {
    super();
    const c = config;
    this.conv1 = new Conv1d(c.numMelBins, c.dModel, 3, { padding: 1 });
    this.conv2 = new Conv1d(c.dModel, c.dModel, 3, { stride: 2, padding: 1 });
    this.embedPositions = new Embedding(c.maxSourcePositions, c.dModel, null, sinusoidsInit(c.maxSourcePositions, c.dModel));
    this.embedPositions.freeze();
    this.layers = Array.from({ length: c.encoderLayers }, () => new WhisperEncoderLayer(c));
    this.layerNorm = new LayerNorm(c.dModel, layerNormEps);
  }

  /** inputFeatures [B, M, F] log-mel with F = 2·max_source_positions. */
  forward(inputFeatures: Tensor, opts: EncoderOptions = {}): EncoderOutput {
    const c = this.config, need = 2 * c.maxSourcePositions;
    if (inputFeatures.ndim !== 3 || inputFeatures.shape[1] !== c.numMelBins || inputFeatures.shape[2] !== need) {
      throw new Error(`whisper encoder: input_features must be [batch, ${c.numMelBins} mel bins, ${need} frames] ` +
        `(2·max_source_positions), got [${inputFeatures.shape.join(', ')}]`);
    }
    let x = this.conv1.forward(inputFeatures).gelu(); // [B, C, F]
    x = this.conv2.forward(x).gelu(); // [B, C, T]
    const pos: Parameter = this.embedPositions.weight; // [maxSourcePositions, C] = [T, C]
    let h = x.transpose(1, 2).add(pos); // [B, T, C]
    const hiddenStates = [h];
    for (const layer of this.layers) {
      h = layer.forward(h, opts.mask ?? null);
      hiddenStates.push(h);
    }
    if (opts.poolStride && opts.poolStride > 1) {
      // avg_pool1d(k, stride k) over time: the mean of each k consecutive rows, floor(T / k) of them
      const k = opts.poolStride, [B, T, C] = h.shape as [number, number, number], ol = Math.floor(T / k);
      if (ol === 0) throw new Error(`whisper: ${T} frames are fewer than the pooling stride ${k}`);
      h = mean(reshape(ol * k === T ? h : slice(h, 1, 0, ol * k), [B, ol, k, C]), 2); // [B, T', C]
    }
    h = this.layerNorm.forward(h);
    if (!opts.poolStride || opts.poolStride === 1) hiddenStates[hiddenStates.length - 1] = h;
    return { lastHiddenState: h, hiddenStates };
  }
}

/** Whisper's sinusoid table: row p = cat(sin(p·f), cos(p·f)) with f_k = exp(−k·ln(10000)/(C/2−1)). */
export function sinusoidsInit(length: number, channels: number): (i: number) => number {
  if (channels % 2 !== 0) throw new Error(`whisper: sinusoidal positions need an even d_model, got ${channels}`);
  const half = channels / 2, step = Math.log(10000) / (half - 1);
  return (i) => {
    const p = Math.floor(i / channels), c = i % channels, k = c % half;
    const angle = p * Math.exp(-step * k);
    return c < half ? Math.sin(angle) : Math.cos(angle);
  };
}

export class WhisperDecoderLayer extends Module {
  selfAttn: WhisperAttention;
  selfAttnLayerNorm: LayerNorm;
  encoderAttn: WhisperAttention;
  encoderAttnLayerNorm: LayerNorm;
  fc1: Linear;
  fc2: Linear;
  finalLayerNorm: LayerNorm;
  constructor(c: WhisperConfig, d: WhisperDecoderConfig) {
    super();
    this.selfAttn = new WhisperAttention(c.dModel, d.heads);
    this.selfAttnLayerNorm = new LayerNorm(c.dModel, layerNormEps);
    this.encoderAttn = new WhisperAttention(c.dModel, d.heads);
    this.encoderAttnLayerNorm = new LayerNorm(c.dModel, layerNormEps);
    this.fc1 = new Linear(c.dModel, d.ffnDim);
    this.fc2 = new Linear(d.ffnDim, c.dModel);
    this.finalLayerNorm = new LayerNorm(c.dModel, layerNormEps);
  }
  forward(x: Tensor, encoderOut: Tensor): Tensor {
    let h = x.add(this.selfAttn.forward(this.selfAttnLayerNorm.forward(x), { causal: true })); // [B, L, C]
    h = h.add(this.encoderAttn.forward(this.encoderAttnLayerNorm.forward(h), { context: encoderOut }));
    return h.add(this.fc2.forward(this.fc1.forward(this.finalLayerNorm.forward(h)).gelu()));
  }
}

export class WhisperDecoder extends Module {
  embedTokens: Embedding;
  embedPositions: Embedding;
  layers: WhisperDecoderLayer[];
  layerNorm: LayerNorm;
  constructor(readonly config: WhisperConfig, readonly decoder: WhisperDecoderConfig) {
    super();
    const c = config, d = decoder;
    this.embedTokens = new Embedding(d.vocabSize, c.dModel, d.padTokenId);
    this.embedPositions = new Embedding(d.maxTargetPositions, c.dModel);
    this.layers = Array.from({ length: d.layers }, () => new WhisperDecoderLayer(c, d));
    this.layerNorm = new LayerNorm(c.dModel, layerNormEps);
  }

  /** ids [B, L] (positions 0..L−1, no cache) and encoderOut [B, T, C] → [B, L, C] after the final norm. */
  forward(ids: Tensor, encoderOut: Tensor): Tensor {
    const L = ids.shape[1]!;
    if (L > this.decoder.maxTargetPositions) {
      throw new Error(`whisper decoder: ${L} tokens exceed max_target_positions ${this.decoder.maxTargetPositions}`);
    }
    let tok = this.embedTokens.forward(ids); // [B, L, C]
    if (this.config.scaleEmbedding) tok = tok.mul(Math.sqrt(this.config.dModel));
    let h = tok.add(this.embedPositions.weight.slice(0, 0, L)); // [B, L, C]
    for (const layer of this.layers) h = layer.forward(h, encoderOut);
    return this.layerNorm.forward(h);
  }

  /** Tied output projection (WhisperForConditionalGeneration.proj_out): [B, L, C] → [B, L, V]. */
  logits(hidden: Tensor): Tensor {
    return hidden.matmul(this.embedTokens.weight.T);
  }
}

/** The encoder–decoder pair of `WhisperModel`. */
export class WhisperModel extends Module {
  encoder: WhisperEncoder;
  decoder: WhisperDecoder | null;
  constructor(readonly config: WhisperConfig) {
    super();
    this.encoder = new WhisperEncoder(config);
    this.decoder = config.decoder ? new WhisperDecoder(config, config.decoder) : null;
  }
}
