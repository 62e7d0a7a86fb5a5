"""Check tessera's Hugging Face exports against transformers.

Builds a tiny randomly initialised tessera checkpoint (`tessera init-tessera`), exports it with
`tessera export --format hf-llava` and `--format hf-qwen2-audio`, loads both folders in transformers
(LlavaForConditionalGeneration, Qwen2AudioForConditionalGeneration; eager attention, float32, CPU), and
compares their logits (and the LLaVA loss) with tessera's own on the same inputs, computed by
`node bin/tessera.mjs forward` and read back from a safetensors file. Logits are compared only where
attention_mask == 1. Loading must report no missing or unexpected keys.

Run:  /work/main/.venv/bin/python scripts/check_hf_export.py [--workdir DIR] [--seed N]

Measured (transformers 5.18.0, torch CPU, seed 0, std 0.1, jitter 0.1):
  hf-llava        max |logits diff| = 2.26e-06 (max |logits| 3.57), loss diff 0.0; no missing/unexpected keys;
                  AutoTokenizer (chat template) and AutoProcessor load the folder
  hf-qwen2-audio  max |logits diff| = 2.15e-06 (max |logits| 3.23), audio tokens [37, 60]; no missing/unexpected keys
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tessera(*args):
    subprocess.run(["node", os.path.join(ROOT, "bin", "tessera.mjs"), *args], check=True, cwd=ROOT)


def tessera_forward(model_dir, inputs, path):
    save_file({k: np.ascontiguousarray(v) for k, v in inputs.items()}, path + ".in.safetensors")
    tessera("forward", "--model", model_dir, "--inputs", path + ".in.safetensors", "--out", path + ".out.safetensors")
    return load_file(path + ".out.safetensors")


def masked_max_diff(a, b, mask):
    rows = mask.astype(bool)
    return float(np.abs(a[rows] - b[rows]).max()), float(np.abs(b[rows]).max())


def text_ids(rng, n, vocab, avoid):
    ids = rng.integers(0, vocab, size=n)
    while np.isin(ids, avoid).any():
        bad = np.isin(ids, avoid)
        ids[bad] = rng.integers(0, vocab, size=int(bad.sum()))
    return ids


def check_llava(work, rng, failures):
    from transformers import LlavaForConditionalGeneration

    out_dir = os.path.join(work, "hf-llava")
    tessera("export", "--model", os.path.join(work, "tessera"), "--format", "hf-llava", "--out", out_dir)
    model, info = LlavaForConditionalGeneration.from_pretrained(out_dir, attn_implementation="eager", output_loading_info=True)
    model.eval()
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        if info.get(kind):
            failures.append(f"hf-llava {kind}: {info[kind]}")
    cfg = model.config
    vocab, img, n_img = cfg.text_config.vocab_size, cfg.image_token_index, cfg.image_seq_length
    audio_id = json.load(open(os.path.join(work, "tessera", "config.json")))["audio_token_id"]
    # Row 0: text, image, text, image, text. Row 1: left padding, text, image, text.
    t = 2 * n_img + 24
    ids = np.zeros((2, t), dtype=np.int64)
    mask = np.ones((2, t), dtype=np.int64)
    ids[0] = np.concatenate([text_ids(rng, 5, vocab, [img, audio_id]), [img] * n_img, text_ids(rng, 9, vocab, [img, audio_id]),
                             [img] * n_img, text_ids(rng, 10, vocab, [img, audio_id])])
    pad = 7
    ids[1, :pad] = 0
    mask[1, :pad] = 0
    ids[1, pad:] = np.concatenate([text_ids(rng, 6, vocab, [img, audio_id]), [img] * n_img, text_ids(rng, t - pad - 6 - n_img, vocab, [img, audio_id])])
    labels = np.where(mask == 1, ids, -100)
    labels[ids == img] = -100
    size = cfg.vision_config.image_size
    pixels = rng.standard_normal((3, 3, size, size)).astype(np.float32)
    ours = tessera_forward(os.path.join(work, "tessera"), {"input_ids": ids, "attention_mask": mask, "pixel_values": pixels, "labels": labels}, os.path.join(work, "llava"))
    with torch.no_grad():
        ref = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), pixel_values=torch.from_numpy(pixels), labels=torch.from_numpy(labels))
    diff, scale = masked_max_diff(ours["logits"], ref.logits.numpy(), mask)
    loss_diff = abs(float(ours["loss"]) - float(ref.loss))
    print(f"hf-llava        max |logits diff| = {diff:.2e} (max |logits| {scale:.2f}), loss diff {loss_diff:.2e}")
    if diff > 1e-4 * max(1.0, scale) or loss_diff > 1e-5 * float(ref.loss):
        failures.append(f"hf-llava logits/loss differ: {diff}, {loss_diff}")
    try:
        from transformers import AutoProcessor, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(out_dir)
        chat = tok.apply_chat_template([{"role": "user", "content": "<image>\nWhat color is the circle?"}], add_generation_prompt=True, tokenize=False)
        print("hf-llava        tokenizer + chat template load; prompt ends with", repr(chat[-22:]))
        AutoProcessor.from_pretrained(out_dir)
        print("hf-llava        AutoProcessor loads")
    except Exception as e:  # the processor is a convenience; the weights are what must match
        print(f"hf-llava        processor load failed: {type(e).__name__}: {e}")


def check_qwen2_audio(work, rng, failures):
    from transformers import Qwen2AudioForConditionalGeneration, WhisperFeatureExtractor

    out_dir = os.path.join(work, "hf-qwen2-audio")
    tessera("export", "--model", os.path.join(work, "tessera"), "--format", "hf-qwen2-audio", "--out", out_dir)
    model, info = Qwen2AudioForConditionalGeneration.from_pretrained(out_dir, attn_implementation="eager", output_loading_info=True)
    model.eval()
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        if info.get(kind):
            failures.append(f"hf-qwen2-audio {kind}: {info[kind]}")
    fe = WhisperFeatureExtractor.from_pretrained(out_dir)
    waves = [0.3 * rng.standard_normal(int(16000 * s)).astype(np.float32) for s in (1.5, 2.4)]
    feats = fe(waves, sampling_rate=16000, return_attention_mask=True, return_tensors="np")
    features, fmask = feats["input_features"].astype(np.float32), feats["attention_mask"].astype(np.int64)
    vocab, aud = model.config.text_config.vocab_size, model.config.audio_token_index
    counts = [((int(l) - 1) // 2 + 1 - 2) // 2 + 1 for l in fmask.sum(-1)]
    rows = [np.concatenate([text_ids(rng, 4, vocab, [aud]), [aud] * n, text_ids(rng, 8, vocab, [aud])]) for n in counts]
    t = max(len(r) for r in rows)
    ids = np.zeros((2, t), dtype=np.int64)
    mask = np.zeros((2, t), dtype=np.int64)
    for b, r in enumerate(rows):  # right padding
        ids[b, : len(r)] = r
        mask[b, : len(r)] = 1
    ours = tessera_forward(os.path.join(work, "tessera"), {"input_ids": ids, "attention_mask": mask, "input_features": features, "feature_attention_mask": fmask}, os.path.join(work, "qwen2audio"))
    with torch.no_grad():
        ref = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), input_features=torch.from_numpy(features), feature_attention_mask=torch.from_numpy(fmask))
    diff, scale = masked_max_diff(ours["logits"], ref.logits.numpy(), mask)
    print(f"hf-qwen2-audio  max |logits diff| = {diff:.2e} (max |logits| {scale:.2f}); audio tokens {counts}")
    if diff > 1e-4 * max(1.0, scale):
        failures.append(f"hf-qwen2-audio logits differ: {diff}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", default="/tmp/tessera-export-check")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    tessera("init-tessera", "--out", os.path.join(args.workdir, "tessera"), "--seed", str(args.seed))
    rng = np.random.default_rng(args.seed)
    failures = []
    check_llava(args.workdir, rng, failures)
    check_qwen2_audio(args.workdir, rng, failures)
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("OK: both exports load in transformers and match tessera")


if __name__ == "__main__":
    main()
