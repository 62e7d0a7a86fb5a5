# Dumps transformers' RoPE inverse frequencies and attention scaling for each rope_type tessera supports
# (modeling_rope_utils.ROPE_INIT_FUNCTIONS) to test/fixtures/rope/inv_freq.json, for src/models/llm/rope.test.ts.
# Run: .venv/bin/python scripts/dump_rope.py
import json
from transformers import LlamaConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

base = dict(hidden_size=64, num_attention_heads=4, max_position_embeddings=256)
cases = {
    'default': {'rope_type': 'default', 'rope_theta': 10000.0},
    'linear': {'rope_type': 'linear', 'rope_theta': 10000.0, 'factor': 4.0},
    'dynamic': {'rope_type': 'dynamic', 'rope_theta': 10000.0, 'factor': 2.0},
    'llama3': {'rope_type': 'llama3', 'rope_theta': 500000.0, 'factor': 8.0, 'low_freq_factor': 1.0,
               'high_freq_factor': 4.0, 'original_max_position_embeddings': 64},
    'yarn': {'rope_type': 'yarn', 'rope_theta': 10000.0, 'factor': 4.0, 'original_max_position_embeddings': 64},
}
out = {}
for name, params in cases.items():
    cfg = LlamaConfig(**base, rope_parameters=params)
    fn = ROPE_INIT_FUNCTIONS[params['rope_type']] if name != 'default' else None
    if fn is None:
        from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
        inv, scale = LlamaRotaryEmbedding.compute_default_rope_parameters(cfg)
    elif name == 'dynamic':
        inv, scale = fn(cfg, None, seq_len=512)
    else:
        inv, scale = fn(cfg, None)
    out[name] = {'config': {**base, 'model_type': 'llama', 'vocab_size': 10, 'intermediate_size': 8, 'num_hidden_layers': 1,
                            'rope_parameters': params},
                 'seq_len': 512 if name == 'dynamic' else 1, 'inv_freq': inv.tolist(), 'attention_scaling': float(scale)}
json.dump(out, open('test/fixtures/rope/inv_freq.json', 'w'), indent=1)
print('ok', list(out))
