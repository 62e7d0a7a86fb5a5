#!/usr/bin/env python3
"""PyTorch side of bench:train-vlm: one instruct training step of the tessera-demo model.

The same architecture as tessera's model (src/models/tessera/model.ts), built from transformers' own modules:
SiglipVisionModel (last encoder layer's hidden state, no post-layernorm: vision_feature_layer -1, strategy
"full") -> mlp2x_gelu projector; Qwen2AudioEncoder (conv stem, encoder, avg-pool by 2, layer norm) -> one
Linear; image/audio features scattered over their placeholder tokens (masked_scatter); Qwen2ForCausalLM with
tied embeddings, loss on the labelled tokens. Every parameter trains: forward + backward + AdamW, float32, CPU.

bench/train-vlm.ts passes the sizes and the batch layout as --config JSON (the demo model and its batch), so
both sides run the same shapes. Prints one JSON line: tokens_per_s_median, median_step_s, losses.
Usage: python torch_vlm_step.py --config '{...}' [--threads 2] [--steps 5] [--warmup 2]
"""
import argparse, json, os, statistics, time

p = argparse.ArgumentParser()
p.add_argument('--config', required=True)
p.add_argument('--threads', type=int, default=2)
p.add_argument('--steps', type=int, default=5)
p.add_argument('--warmup', type=int, default=2)
args = p.parse_args()
os.environ.setdefault('OMP_NUM_THREADS', str(args.threads))
import torch
import torch.nn as nn
from transformers import Qwen2Config, Qwen2ForCausalLM, SiglipVisionConfig, SiglipVisionModel
from transformers.models.qwen2_audio.configuration_qwen2_audio import Qwen2AudioEncoderConfig
from transformers.models.qwen2_audio.modeling_qwen2_audio import Qwen2AudioEncoder

torch.set_num_threads(args.threads)
torch.manual_seed(0)
cfg = json.loads(args.config)
m, V, T = cfg['model'], cfg['vocab'], cfg['seq']
rows = cfg['rows']  # [kind, image tokens, audio tokens] per sequence


class TesseraTorch(nn.Module):
    def __init__(self):
        super().__init__()
        v, a = m['vision'], m['audio']
        self.llm = Qwen2ForCausalLM(Qwen2Config(
            vocab_size=V, hidden_size=m['hidden'], intermediate_size=2 * m['hidden'], num_hidden_layers=m['layers'],
            num_attention_heads=m['heads'], num_key_value_heads=m['kvHeads'], max_position_embeddings=m['maxPositions'],
            rms_norm_eps=1e-6, tie_word_embeddings=True, attn_implementation='sdpa'))
        self.vision = SiglipVisionModel(SiglipVisionConfig(
            hidden_size=v['hidden'], intermediate_size=2 * v['hidden'], num_hidden_layers=v['layers'], num_attention_heads=v['heads'],
            image_size=v['imageSize'], patch_size=v['patchSize'], hidden_act='gelu_pytorch_tanh', layer_norm_eps=1e-6,
            attn_implementation='sdpa'))
        self.vision_projector = nn.Sequential(nn.Linear(v['hidden'], m['hidden']), nn.GELU(), nn.Linear(m['hidden'], m['hidden']))
        self.audio = Qwen2AudioEncoder(Qwen2AudioEncoderConfig(
            num_mel_bins=a['melBins'], d_model=a['dModel'], encoder_layers=a['layers'], encoder_attention_heads=a['heads'],
            encoder_ffn_dim=2 * a['dModel'], max_source_positions=50 * a['seconds'], activation_function='gelu', scale_embedding=False))
        self.audio_projector = nn.Linear(a['dModel'], m['hidden'])

    def forward(self, ids, mask, labels, pixels, mels):
        x = self.llm.get_input_embeddings()(ids)  # (B, T, C)
        img = self.vision(pixel_values=pixels, output_hidden_states=True).hidden_states[-1]  # (I, N, Cv)
        img = self.vision_projector(img).reshape(-1, x.shape[-1])
        x = x.masked_scatter((ids == cfg['image_id']).unsqueeze(-1), img)
        aud = self.audio_projector(self.audio(mels).last_hidden_state)  # (A, F/4, C): full-length audio keeps every row
        aud = aud[:, :rows_audio_tokens].reshape(-1, x.shape[-1])
        x = x.masked_scatter((ids == cfg['audio_id']).unsqueeze(-1), aud)
        return self.llm(inputs_embeds=x, attention_mask=mask, labels=labels).loss


rows_audio_tokens = max(r[2] for r in rows)
B = len(rows)
ids = torch.zeros(B, T, dtype=torch.long)
labels = torch.full((B, T), -100, dtype=torch.long)
for b, (_, ni, na) in enumerate(rows):
    ids[b] = torch.tensor([8 + ((b * 131 + t * 17) % (V - 8)) for t in range(T)])
    ids[b, 16:16 + ni] = cfg['image_id']
    ids[b, 16 + ni:16 + ni + na] = cfg['audio_id']
    labels[b, T - cfg['answer_tokens']:] = ids[b, T - cfg['answer_tokens']:]
s = m['vision']['imageSize']
pixels = torch.randn(sum(1 for r in rows if r[1]), 3, s, s)
mels = torch.randn(sum(1 for r in rows if r[2]), m['audio']['melBins'], cfg['mel_frames'])
mask = torch.ones(B, T, dtype=torch.long)

model = TesseraTorch().train()
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)


def step():
    loss = model(ids, mask, labels, pixels, mels)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


losses = [step() for _ in range(args.warmup)]
times = []
for _ in range(args.steps):
    t0 = time.perf_counter()
    losses.append(step())
    times.append(time.perf_counter() - t0)
med = statistics.median(times)
print(json.dumps({'bench': 'train-vlm', 'impl': 'pytorch', 'torch': torch.__version__, 'threads': args.threads, 'median_step_s': med,
                  'tokens_per_s_median': B * T / med, 'loss_first': losses[0], 'loss_last': losses[-1]}))
