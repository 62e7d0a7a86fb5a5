// Imports every model family so each registers its model types (see registry.ts). One line per family.
import './mllm/whisper.ts';
import './mllm/blip2.ts';
import './mllm/qwen2-audio.ts';
import './mllm/llava.ts';
