"""Writes test/fixtures/safetensors/python-written.safetensors with the reference Python `safetensors` writer,
for the byte-for-byte test in src/io/safetensors.test.ts, and prints torch's float16/bfloat16 bit patterns for
the conversion tests in src/tensor/dtype.test.ts (pasted there as literals). Run: .venv/bin/python scripts/dump_safetensors_fixtures.py"""
import math
import struct
from pathlib import Path

import torch
from safetensors.torch import save_file

out = Path(__file__).resolve().parent.parent / "test/fixtures/safetensors"
out.mkdir(parents=True, exist_ok=True)

tensors = {
    "f32": torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.25 - 0.5,
    "f64": torch.tensor([1 / 3, -2.5, 1e300], dtype=torch.float64),
    "f16": torch.tensor([0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0x7E00]).to(torch.int16).view(torch.float16),
    "bf16": torch.tensor([0x3F80, 0xC000, 0x7F7F, 0x0001]).to(torch.int16).view(torch.bfloat16),
    "i32": torch.tensor([-(2**31), 0, 2**31 - 1], dtype=torch.int32),
    "i64": torch.tensor([-(2**63), 2**53 + 1, 2**63 - 1], dtype=torch.int64),
    "mask": torch.tensor([True, False, True]),
    "empty": torch.zeros(0, 3, dtype=torch.float32),
    "scalar": torch.tensor(3.5, dtype=torch.float32),
    "0": torch.tensor([7], dtype=torch.int32),
    "10": torch.tensor([8], dtype=torch.int32),
    "name \"quoted\" \\ \n\x01": torch.tensor([1.0], dtype=torch.float32),
    "\uff61": torch.tensor([2.0], dtype=torch.float32),  # UTF-16 order and UTF-8 order disagree on these two
    "\U0001F600": torch.tensor([3.0], dtype=torch.float32),
    "é": torch.tensor([4.0], dtype=torch.float32),
}
save_file(tensors, str(out / "python-written.safetensors"), metadata={"format": "pt"})

# float32 inputs given by their bit patterns, so nothing is lost in printing.
f32_bits = [
    0x00000000, 0x80000000, 0x3F800000, 0x3F801000, 0x3F803000, 0x3F801001, 0x3F800FFF,  # 1, ties around 1
    0x477FE000, 0x477FEFFF, 0x477FF000, 0x4B189680,  # 65504, just below/at the overflow tie, 1e7
    0x33800000, 0x33000000, 0x33000001, 0x33C00000, 0x38800000, 0x387FC000, 0x387FE000,  # f16 subnormal edges
    0x00000001, 0x807FFFFF, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00000,  # f32 subnormals, max, inf, nan
    0x3F808000, 0x3F818000, 0x3F808001, 0x3F807FFF, 0x7F7F8000, 0x40490FDB, 0xC2F6E979,  # bf16 ties, pi, -123.456
]
xs = torch.tensor(f32_bits, dtype=torch.int64).to(torch.int32).view(torch.float32)
h = xs.half().view(torch.int16).to(torch.int64) & 0xFFFF
b = xs.bfloat16().view(torch.int16).to(torch.int64) & 0xFFFF
print("f32Bits =", [hex(v) for v in f32_bits])
print("f16Bits =", [hex(v) for v in h.tolist()])
print("bf16Bits =", [hex(v) for v in b.tolist()])
# float16 -> float32 on a spread of bit patterns (exact in float32, printed as float32 bits)
hb = [0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x3C00, 0x3555, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0x8001, 0xC248]
hf = torch.tensor(hb, dtype=torch.int64).to(torch.int16).view(torch.float16).float().view(torch.int32).to(torch.int64) & 0xFFFFFFFF
print("f16In =", [hex(v) for v in hb])
print("f16AsF32Bits =", [hex(v) for v in hf.tolist()])
