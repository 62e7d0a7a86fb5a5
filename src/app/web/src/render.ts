// DOM for the chat: one element per message (text, inline images, audio players, tool-call blocks, an error
// or "stopped" note, token counts) and the sidebar's conversation list. All model and user text goes in
// through textContent, never as HTML.

import { icons } from './icons.ts';
import type { Conversation, Message, Part } from './store.ts';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function partElement(p: Part): HTMLElement {
  if (p.type === 'text') return el('div', 'text', p.text);
  if (p.type === 'image') {
    const img = el('img', 'image');
    img.src = p.url;
    img.alt = p.name;
    img.title = p.name;
    return img;
  }
  if (p.type === 'audio') {
    const box = el('figure', 'audio');
    const player = el('audio');
    player.controls = true;
    player.src = p.url;
    box.append(player, el('figcaption', '', p.name));
    return box;
  }
  return el('div', 'dropped', `${p.kind} “${p.name}” was not kept (browser storage is full)`);
}

function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** The body of a message: media first (as the user attached them), then text, tool calls and status. */
export function fillMessage(box: HTMLElement, m: Message): void {
  box.replaceChildren();
  box.dataset.state = m.state ?? 'done';
  const media = m.parts.filter((p) => p.type !== 'text');
  if (media.length) {
    const row = el('div', 'media');
    row.append(...media.map(partElement));
    box.append(row);
  }
  const text = m.parts.filter((p) => p.type === 'text').map((p) => (p as { text: string }).text).join('');
  const streaming = m.role === 'assistant' && m.state === 'streaming';
  if (text || streaming) {
    const content = el('div', 'content', text);
    if (streaming) content.append(el('span', 'cursor'));
    box.append(content);
  } else if (m.role === 'assistant' && m.state === 'done' && !m.toolCalls?.length) {
    box.append(el('div', 'content note', '(empty answer)'));
  }
  for (const call of m.toolCalls ?? []) {
    const block = el('div', 'tool-call');
    const head = el('div', 'tool-call-head');
    head.innerHTML = icons.tool;
    head.append(el('span', '', 'Tool call'), el('code', 'tool-name', call.name));
    block.append(head, el('pre', 'tool-args', prettyJson(call.arguments)));
    box.append(block);
  }
  if (m.state === 'stopped') box.append(el('div', 'note', 'Stopped'));
  if (m.state === 'error') box.append(el('div', 'error', m.error ?? 'Something went wrong'));
  if (m.usage && m.state !== 'streaming') {
    box.append(el('div', 'usage', `${m.usage.promptTokens} prompt · ${m.usage.completionTokens} completion tokens`));
  }
}

export function messageElement(m: Message): HTMLElement {
  const row = el('article', `message ${m.role}`);
  const bubble = el('div', 'bubble');
  fillMessage(bubble, m);
  row.append(bubble);
  return row;
}

export function emptyState(models: readonly string[]): HTMLElement {
  const box = el('div', 'empty');
  box.append(el('div', 'empty-logo'), el('h2', '', 'What can I help you see or hear?'),
    el('p', '', 'Attach images or audio files, record from the microphone, or just type.'));
  if (models.length) box.append(el('p', 'empty-model', `Talking to ${models.join(', ')}`));
  return box;
}

export function conversationItem(c: Conversation, active: boolean, onOpen: () => void, onDelete: () => void): HTMLElement {
  const item = el('div', `conversation${active ? ' active' : ''}`);
  const open = el('button', 'conversation-open', c.title);
  open.type = 'button';
  open.title = c.title;
  open.addEventListener('click', onOpen);
  const del = el('button', 'conversation-delete');
  del.type = 'button';
  del.innerHTML = icons.trash;
  del.setAttribute('aria-label', `Delete “${c.title}”`);
  del.addEventListener('click', (e) => { e.stopPropagation(); onDelete(); });
  item.append(open, del);
  return item;
}
