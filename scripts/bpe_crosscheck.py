"""Cross-checks tessera's byte-level BPE trainer (src/data/tokenizer/bpe-train.ts) against Hugging Face.

1. Loads our test/fixtures/bpe/ours/ with `tokenizers.Tokenizer` and `transformers.AutoTokenizer`, encodes
   test/fixtures/bpe/strings.json and records ids, tokens and decodes (the TS test asserts @huggingface/tokenizers
   gives the same), and renders our chat template through apply_chat_template (jinja2).
2. Trains HF's own BpeTrainer with the same pre-tokenizer and settings on the same corpus lines and compares
   its merges with ours.
Writes test/fixtures/bpe/python.json. Run after scripts/make-bpe-fixture.ts:
    .venv/bin/python scripts/bpe_crosscheck.py
"""
import json
import re
from pathlib import Path

import tokenizers
import transformers
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import AutoTokenizer

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "test/fixtures/bpe"
OURS = FIXTURE / "ours"


def corpus_lines(text):
    # Same split as corpusLines() in scripts/make-bpe-fixture.ts: one sequence per line, newline kept.
    return [line for line in re.split(r"(?<=\n)", text) if line]


def train_hf(lines, ours_json):
    pattern = ours_json["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"]
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=len(ours_json["model"]["vocab"]),  # learned vocab only: added tokens are appended afterwards
        min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    tok.train_from_iterator(lines, trainer=trainer)
    return json.loads(tok.to_str())


def compare_merges(ours, theirs):
    common_prefix = 0
    for a, b in zip(ours, theirs):
        if a != b:
            break
        common_prefix += 1
    ours_set = {tuple(m) for m in ours}
    theirs_set = {tuple(m) for m in theirs}
    return {
        "ours": len(ours),
        "hf": len(theirs),
        "same_leading_merges": common_prefix,
        "identical": ours == theirs,
        "shared_merges_any_order": len(ours_set & theirs_set),
        "first_difference": None if common_prefix == min(len(ours), len(theirs))
        else {"index": common_prefix, "ours": ours[common_prefix], "hf": theirs[common_prefix]},
    }


def main():
    ours_json = json.loads((OURS / "tokenizer.json").read_text(encoding="utf-8"))
    strings = json.loads((FIXTURE / "strings.json").read_text(encoding="utf-8"))
    with open(FIXTURE / "corpus.txt", encoding="utf-8", newline="") as f:  # keep \r\n as the TS side reads it
        lines = corpus_lines(f.read())

    rust = Tokenizer.from_file(str(OURS / "tokenizer.json"))
    auto = AutoTokenizer.from_pretrained(str(OURS))
    cases = []
    for s in strings:
        enc = rust.encode(s, add_special_tokens=False)
        auto_ids = auto.encode(s, add_special_tokens=False)
        cases.append({
            "text": s,
            "ids": enc.ids,
            "tokens": enc.tokens,
            "decoded": rust.decode(enc.ids, skip_special_tokens=False),
            "decoded_skip_special": rust.decode(enc.ids, skip_special_tokens=True),
            "transformers_ids_equal": auto_ids == enc.ids,
            "transformers_decoded": auto.decode(auto_ids, skip_special_tokens=False),
        })

    chats = [
        {"messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe it."}]}],
         "kwargs": {"add_generation_prompt": True}},
        {"messages": [
            {"role": "system", "content": "You help."},
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
            {"role": "tool", "content": "{\"temp\": 21}"},
            {"role": "assistant", "content": "21°C."}],
         "kwargs": {"tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {
             "type": "object", "properties": {"city": {"type": "string"}}}}}]}},
        {"messages": [{"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": "Transcribe."}]}],
         "kwargs": {"add_generation_prompt": False}},
    ]
    for chat in chats:
        chat["rendered"] = auto.apply_chat_template(chat["messages"], tokenize=False, **chat["kwargs"])
        chat["ids"] = auto.apply_chat_template(chat["messages"], tokenize=True, return_dict=False, **chat["kwargs"])

    hf_json = train_hf(lines, ours_json)
    hf_merges = [list(m) for m in hf_json["model"]["merges"]]
    merges = compare_merges(ours_json["model"]["merges"], hf_merges)
    merges["vocab_equal"] = hf_json["model"]["vocab"] == ours_json["model"]["vocab"]

    out = {
        "versions": {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__},
        "auto_tokenizer": {
            "class": type(auto).__name__,
            "vocab_size_with_added": len(auto),
            "eos_token": auto.eos_token, "eos_token_id": auto.eos_token_id,
            "pad_token": auto.pad_token, "pad_token_id": auto.pad_token_id,
            "bos_token": auto.bos_token,
        },
        "cases": cases,
        "chats": chats,
        "hf_bpe_trainer": merges,
    }
    (FIXTURE / "python.json").write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({"auto_tokenizer": out["auto_tokenizer"], "hf_bpe_trainer": merges}, ensure_ascii=False, indent=1))
    bad = [c["text"] for c in cases if not c["transformers_ids_equal"] or c["decoded"] != c["text"]]
    print("cases:", len(cases), "mismatching or not round-tripping:", bad)


if __name__ == "__main__":
    main()
