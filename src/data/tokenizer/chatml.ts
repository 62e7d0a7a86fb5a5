// The ChatML chat template (Qwen2.5 style) that tessera tokenizers carry in tokenizer_config.json.
//
// Format, one turn per message:  <|im_start|>{role}\n{content}<|im_end|>\n
// - content is a string or a list of parts {type:'text', text} | {type:'image'} | {type:'audio'}; media parts
//   render as the single special tokens <image> / <audio>, which the model later replaces by encoder rows.
//   OpenAI-style part names (image_url, input_audio) map to the same markers so server requests render as-is.
// - `tools` (OpenAI function specs) go into the system turn, one JSON object per line inside <tools></tools>,
//   with Qwen2.5's instructions text; without a system message a default system prompt is used.
// - assistant `tool_calls` render as "\n<tool_call>\n{"name": ..., "arguments": ...}\n</tool_call>" after the
//   content; `arguments` may be an object (rendered with tojson) or an already-serialised JSON string.
// - tool results follow Qwen2.5: a `tool` message becomes <tool_response>\n...\n</tool_response> inside a user
//   turn, and consecutive tool messages share that one user turn. (A separate `tool` role would be new to a
//   Qwen-initialised model; the user-turn form is what Qwen2.5 was tuned on.)
// - add_generation_prompt appends "<|im_start|>assistant\n".
// The template is whitespace-controlled with {%- -%} so it renders the same in jinja2 (transformers, which also
// sets trim_blocks/lstrip_blocks) and @huggingface/jinja.

/** Default system prompt when the conversation has none (kept equal to the shared HF fixture's template). */
export const defaultSystemPrompt = 'You are a helpful multimodal assistant.';

const toolsPreamble =
  '\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n' +
  'You are provided with function signatures within <tools></tools> XML tags:\\n<tools>';
const toolsPostamble =
  '\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within ' +
  '<tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": ' +
  '<args-json-object>}\\n</tool_call><|im_end|>\\n';

export const chatmlTemplate: string = [
  '{%- macro render_content(content) -%}',
  '    {%- if content is string -%}',
  '        {{- content -}}',
  '    {%- elif content is not none -%}',
  '        {%- for part in content -%}',
  "            {%- if part.type == 'text' -%}{{- part.text -}}",
  "            {%- elif part.type == 'image' or part.type == 'image_url' -%}{{- '<image>' -}}",
  "            {%- elif part.type == 'audio' or part.type == 'input_audio' -%}{{- '<audio>' -}}",
  '            {%- endif -%}',
  '        {%- endfor -%}',
  '    {%- endif -%}',
  '{%- endmacro -%}',
  "{%- if messages[0].role == 'system' -%}",
  '    {%- set system_prompt = render_content(messages[0].content) -%}',
  '{%- else -%}',
  `    {%- set system_prompt = '${defaultSystemPrompt}' -%}`,
  '{%- endif -%}',
  "{{- '<|im_start|>system\\n' + system_prompt -}}",
  '{%- if tools -%}',
  `    {{- "${toolsPreamble}" -}}`,
  '    {%- for tool in tools -%}',
  "        {{- '\\n' + (tool | tojson) -}}",
  '    {%- endfor -%}',
  `    {{- "${toolsPostamble}" -}}`,
  '{%- else -%}',
  "    {{- '<|im_end|>\\n' -}}",
  '{%- endif -%}',
  '{%- for message in messages -%}',
  "    {%- if message.role == 'system' and loop.first -%}",
  "    {%- elif message.role == 'user' or message.role == 'system' or (message.role == 'assistant' and not message.tool_calls) -%}",
  "        {{- '<|im_start|>' + message.role + '\\n' + render_content(message.content) + '<|im_end|>\\n' -}}",
  "    {%- elif message.role == 'assistant' -%}",
  "        {{- '<|im_start|>assistant' -}}",
  '        {%- if message.content -%}',
  "            {{- '\\n' + render_content(message.content) -}}",
  '        {%- endif -%}',
  '        {%- for call in message.tool_calls -%}',
  '            {%- if call.function is defined -%}{%- set call = call.function -%}{%- endif -%}',
  `            {{- '\\n<tool_call>\\n{"name": "' + call.name + '", "arguments": ' -}}`,
  '            {%- if call.arguments is string -%}{{- call.arguments -}}{%- else -%}{{- call.arguments | tojson -}}{%- endif -%}',
  "            {{- '}\\n</tool_call>' -}}",
  '        {%- endfor -%}',
  "        {{- '<|im_end|>\\n' -}}",
  "    {%- elif message.role == 'tool' -%}",
  "        {%- if loop.first or messages[loop.index0 - 1].role != 'tool' -%}",
  "            {{- '<|im_start|>user' -}}",
  '        {%- endif -%}',
  "        {{- '\\n<tool_response>\\n' + render_content(message.content) + '\\n</tool_response>' -}}",
  "        {%- if loop.last or messages[loop.index0 + 1].role != 'tool' -%}",
  "            {{- '<|im_end|>\\n' -}}",
  '        {%- endif -%}',
  '    {%- else -%}',
  "        {{- raise_exception('chatml: unknown role ' + message.role) -}}",
  '    {%- endif -%}',
  '{%- endfor -%}',
  '{%- if add_generation_prompt -%}',
  "    {{- '<|im_start|>assistant\\n' -}}",
  '{%- endif -%}',
].join('\n');
