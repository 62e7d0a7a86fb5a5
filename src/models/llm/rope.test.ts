// RoPE frequencies for every supported rope_type against transformers' ROPE_INIT_FUNCTIONS
// (test/fixtures/rope/inv_freq.json, made by scripts/dump_rope.py), and config parsing of both RoPE spellings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../util/paths.ts';
import { parseLlmConfig } from './config.ts';
import { ropeFrequencies } from './rope.ts';

interface Case { config: Record<string, unknown>; seq_len: number; inv_freq: number[]; attention_scaling: number }
const cases = JSON.parse(readFileSync(join(repoRoot, 'test/fixtures/rope/inv_freq.json'), 'utf8')) as Record<string, Case>;

for (const [name, c] of Object.entries(cases)) {
  test(`rope ${name}: inv_freq and attention scaling match transformers`, () => {
    const cfg = parseLlmConfig(c.config);
    assert.equal(cfg.rope.type, name);
    const { invFreq, scaling } = ropeFrequencies(cfg.rope, cfg.headDim, c.seq_len);
    assert.equal(invFreq.length, c.inv_freq.length);
    invFreq.forEach((f, i) => assert.ok(Math.abs(f - c.inv_freq[i]!) <= 1e-6 * Math.abs(c.inv_freq[i]!), `${name}[${i}]: ${f} vs ${c.inv_freq[i]}`));
    assert.ok(Math.abs(scaling - c.attention_scaling) < 1e-6, `${name} scaling ${scaling} vs ${c.attention_scaling}`);
  });
}

test('legacy rope_theta + rope_scaling and rope_parameters parse to the same config', () => {
  const base = { model_type: 'llama', vocab_size: 10, hidden_size: 64, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 4 };
  const legacy = parseLlmConfig({ ...base, rope_theta: 5e5, rope_scaling: { type: 'linear', factor: 2 } });
  const modern = parseLlmConfig({ ...base, rope_parameters: { rope_type: 'linear', rope_theta: 5e5, factor: 2 } });
  assert.deepEqual(legacy.rope, modern.rope);
  assert.equal(parseLlmConfig(base).rope.theta, 10000);
  assert.equal(parseLlmConfig({ ...base, head_dim: 8 }).headDim, 8);
  assert.equal(parseLlmConfig({ ...base, num_key_value_heads: 2 }).numKvHeads, 2);
  assert.throws(() => parseLlmConfig({ ...base, rope_parameters: { rope_type: 'longrope', rope_theta: 1, factor: 2 } }, 'x.json'), /x\.json:rope_parameters: rope_type "longrope" is not supported/);
  assert.throws(() => parseLlmConfig({ ...base, num_key_value_heads: 3 }), /not a multiple of num_key_value_heads 3/);
  assert.throws(() => parseLlmConfig({ ...base, hidden_size: 'big' }, 'c.json'), /c\.json: field "hidden_size" must be a number/);
  assert.throws(() => parseLlmConfig({ ...base, model_type: 'gpt2' }), /text model_type "gpt2" is not supported/);
});
