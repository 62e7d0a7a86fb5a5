// Imports every model family so each registers its model types (see registry.ts). One line per family.
import './mllm/whisper.ts';
import './mllm/blip2.ts';
import './mllm/qwen2-audio.ts';
import './mllm/llava.ts';
import './mllm/kosmos2.ts';
import './mllm/idefics3.ts';
import './mllm/qwen2-vl.ts';
import './tessera/checkpoint.ts';
import './mllm/internvl.ts';
import './mllm/deepseek-vl.ts';
import './mllm/deepseek-vl-hybrid.ts';
import './mllm/mllama.ts';
