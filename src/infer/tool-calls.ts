// Tool calls in model output → OpenAI `tool_calls`. The ChatML/Qwen2.5 format (src/data/tokenizer/chatml.ts)
// writes each call as `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`; some models answer with a
// bare JSON object instead (Llama 3.1 uses "parameters" for the arguments), accepted as a fallback when it is
// the whole reply. Whatever does not parse stays plain text: parsing never throws, and a malformed or
// truncated block is left in the content for the client to see.

import { randomBytes } from 'node:crypto';

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ParsedOutput {
  /** Text outside the tool-call blocks (trimmed); null when there is none. */
  content: string | null;
  toolCalls: ToolCall[];
}

const openTag = '<tool_call>';
const closeTag = '</tool_call>';

export function newToolCallId(): string {
  return `call_${randomBytes(12).toString('base64url')}`;
}

/** `{"name": string, "arguments"|"parameters": object|JSON string}` → a ToolCall, or null. */
function callFromJson(text: string): ToolCall | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  if (typeof o.name !== 'string' || o.name.length === 0) return null;
  let args = 'arguments' in o ? o.arguments : 'parameters' in o ? o.parameters : {};
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args);
    } catch {
      return null;
    }
  }
  if (!args || typeof args !== 'object' || Array.isArray(args)) return null;
  return { id: newToolCallId(), type: 'function', function: { name: o.name, arguments: JSON.stringify(args) } };
}

/** Splits model output into content and tool calls. */
export function parseToolCalls(output: string): ParsedOutput {
  const calls: ToolCall[] = [];
  let content = '';
  let at = 0;
  for (;;) {
    const open = output.indexOf(openTag, at);
    if (open < 0) { content += output.slice(at); break; }
    const close = output.indexOf(closeTag, open + openTag.length);
    // A truncated last block (no closing tag) still counts when its JSON is complete.
    const body = output.slice(open + openTag.length, close < 0 ? output.length : close);
    const end = close < 0 ? output.length : close + closeTag.length;
    const call = callFromJson(body.trim());
    if (call) {
      content += output.slice(at, open);
      calls.push(call);
    } else {
      content += output.slice(at, end);
    }
    at = end;
    if (close < 0) break;
  }
  if (calls.length === 0) {
    const bare = output.trim();
    if (bare.startsWith('{')) {
      const call = callFromJson(bare);
      if (call) return { content: null, toolCalls: [call] };
    }
  }
  const trimmed = content.trim();
  return { content: trimmed.length ? trimmed : null, toolCalls: calls };
}

/**
 * Streaming guard for replies that may hold tool calls: passes text through until it could be the start of a
 * call (a `<tool_call>` tag, or a reply opening with `{`), and holds the rest back for `parseToolCalls`.
 */
export class ToolCallHoldback {
  private full = '';
  private emitted = 0;
  private holding = false;

  push(delta: string): string {
    this.full += delta;
    if (this.holding) return '';
    if (this.full.trimStart().startsWith('{')) { this.holding = true; return ''; }
    const tag = this.full.indexOf(openTag, this.emitted);
    let until = this.full.length;
    if (tag >= 0) { until = tag; this.holding = true; }
    else {
      // keep back a tail that may be the start of the tag
      for (let n = Math.min(openTag.length - 1, this.full.length); n > 0; n--) {
        if (this.full.endsWith(openTag.slice(0, n))) { until = this.full.length - n; break; }
      }
    }
    const out = this.full.slice(this.emitted, Math.max(until, this.emitted));
    this.emitted += out.length;
    return out;
  }

  /** Parses the whole reply; `rest` is the content not yet streamed. */
  finish(): { rest: string; parsed: ParsedOutput } {
    const parsed = parseToolCalls(this.full);
    if (parsed.toolCalls.length === 0) return { rest: this.full.slice(this.emitted), parsed: { content: this.full.length ? this.full : null, toolCalls: [] } };
    const content = parsed.content ?? '';
    const sent = this.full.slice(0, this.emitted).trim();
    const rest = content.startsWith(sent) ? content.slice(sent.length) : '';
    return { rest, parsed };
  }
}
