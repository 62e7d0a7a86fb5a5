// Chat templates: renders a Hugging Face chat template (Jinja) the way
// `PreTrainedTokenizerBase.apply_chat_template` does, through @huggingface/jinja.
// Semantics that must match transformers (fixtures/hf README item 12): jinja2 with trim_blocks and
// lstrip_blocks (@huggingface/jinja always lexes with both on); `tojson` = json.dumps(x,
// ensure_ascii=False) with separators ", " and ": " (the library's default tojson already prints
// exactly that for JSON data); `continue_final_message` cuts the rendering right after the final
// message's content; `raise_exception` and `strftime_now` are globals.
import { Template } from '@huggingface/jinja';

/** A content part of a multimodal message. */
export type ContentPart =
  | { type: 'text'; text: string }
  | { type: 'image'; [key: string]: unknown }
  | { type: 'audio'; [key: string]: unknown };

export interface ChatMessage {
  role: string;
  content: string | ContentPart[];
  tool_calls?: unknown[];
  [key: string]: unknown;
}

export interface RenderOptions {
  /** Tool (function) schemas, passed to the template as `tools`. */
  tools?: unknown[];
  /** Append the header of a new assistant turn. Default false. */
  addGenerationPrompt?: boolean;
  /** Leave the final message open so generation continues it. Default false. */
  continueFinalMessage?: boolean;
  bosToken?: string;
  eosToken?: string;
  padToken?: string;
  unkToken?: string;
  /** Any other template variables (e.g. `documents`, `enable_thinking`). */
  extra?: Record<string, unknown>;
}

const compiled = new Map<string, Template>();

function compile(template: string): Template {
  let t = compiled.get(template);
  if (t === undefined) {
    try {
      t = new Template(template);
    } catch (e) {
      throw new Error(`chat template: cannot parse: ${(e as Error).message}`);
    }
    if (compiled.size > 32) compiled.clear();
    compiled.set(template, t);
  }
  return t;
}

// The text to continue: the content itself, or its last text part (as transformers picks it).
function finalMessageText(messages: readonly ChatMessage[]): string {
  const last = messages[messages.length - 1];
  if (last === undefined) throw new Error('chat template: continueFinalMessage needs at least one message');
  if (typeof last.content === 'string') return last.content;
  for (let i = last.content.length - 1; i >= 0; i--) {
    const part = last.content[i]!;
    if (part.type === 'text' && typeof part.text === 'string') return part.text;
  }
  throw new Error('chat template: continueFinalMessage is set but the final message has no text part');
}

/**
 * Render `messages` with a chat template.
 * @example renderChat(tok.chatTemplate!, [{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true })
 */
export function renderChat(template: string, messages: readonly ChatMessage[], options: RenderOptions = {}): string {
  const addGenerationPrompt = options.addGenerationPrompt ?? false;
  const continueFinalMessage = options.continueFinalMessage ?? false;
  if (addGenerationPrompt && continueFinalMessage) {
    throw new Error('chat template: addGenerationPrompt and continueFinalMessage cannot both be set');
  }
  messages.forEach((m, i) => {
    if (typeof m.role !== 'string') throw new Error(`chat template: messages[${i}].role must be a string`);
    if (typeof m.content !== 'string' && !Array.isArray(m.content)) {
      throw new Error(`chat template: messages[${i}].content must be a string or a list of parts`);
    }
  });
  const vars: Record<string, unknown> = {
    ...options.extra,
    messages,
    add_generation_prompt: addGenerationPrompt,
  };
  if (options.tools !== undefined) vars.tools = options.tools;
  if (options.bosToken !== undefined) vars.bos_token = options.bosToken;
  if (options.eosToken !== undefined) vars.eos_token = options.eosToken;
  if (options.padToken !== undefined) vars.pad_token = options.padToken;
  if (options.unkToken !== undefined) vars.unk_token = options.unkToken;

  let rendered: string;
  try {
    rendered = compile(template).render(vars);
  } catch (e) {
    throw new Error(`chat template: rendering failed: ${(e as Error).message}`);
  }
  if (!continueFinalMessage) return rendered;

  // Cut after the final message's content. A template may strip the content's surrounding
  // whitespace, so search for the stripped text and keep trailing spaces only if they were rendered.
  const final = finalMessageText(messages);
  const stripped = final.trim();
  const at = rendered.lastIndexOf(stripped);
  if (stripped.length === 0 || at < 0) {
    throw new Error('chat template: continueFinalMessage is set but the final message does not appear in the rendering');
  }
  const leftStripped = final.trimStart();
  return rendered.slice(at, at + leftStripped.length) === leftStripped
    ? rendered.slice(0, at + leftStripped.length)
    : rendered.slice(0, at + stripped.length);
}
