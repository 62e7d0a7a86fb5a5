// Hugging Face `hidden_act` / `projector_hidden_act` names → tensor functions (transformers `activations.py`
// ACT2FN). "gelu" is the exact erf form; the tanh approximation has its own names.

import { gelu, geluTanh, quickGelu, relu, sigmoid, silu, type Tensor } from '../../tensor/index.ts';

export type Activation = (x: Tensor) => Tensor;

const table: Readonly<Record<string, Activation>> = {
  gelu,
  gelu_new: geluTanh,
  gelu_pytorch_tanh: geluTanh,
  gelu_fast: geluTanh,
  quick_gelu: quickGelu,
  silu,
  swish: silu,
  relu,
  sigmoid,
};

/** The function for an activation name; `where` names the config field for the error. */
export function activation(name: string, where: string): Activation {
  const f = table[name];
  if (!f) throw new Error(`${where}: activation "${name}" is not supported (known: ${Object.keys(table).join(', ')})`);
  return f;
}
