// tessera's web chat: conversations in a sidebar (kept in localStorage), a model picker from /v1/models,
// a composer that takes text, images (picked, pasted or dropped), audio files and microphone recordings, and
// answers streamed from /v1/chat/completions token by token, with tool calls shown as their own block and a
// stop button that aborts the request (the server then cancels the generation).

import { ApiError, apiKey, listModels, setApiKey, streamChat, type ApiContentPart, type ApiMessage } from './api.ts';
import { icons } from './icons.ts';
import { audioAttachment, canRecord, readDataUrl, startRecording } from './media.ts';
import { conversationItem, emptyState, fillMessage, messageElement } from './render.ts';
import { loadConversations, newConversation, saveConversations, titleOf, type Conversation, type Message, type Part } from './store.ts';

const $ = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`web chat: #${id} is missing from index.html`);
  return e as T;
};

const ui = {
  app: $('app'), conversations: $('conversations'), newChat: $<HTMLButtonElement>('new-chat'), apiKey: $<HTMLButtonElement>('api-key'),
  toggleSidebar: $<HTMLButtonElement>('toggle-sidebar'), title: $('chat-title'), model: $<HTMLSelectElement>('model'),
  messages: $('messages'), composer: $<HTMLFormElement>('composer'), attachments: $('attachments'), input: $<HTMLTextAreaElement>('input'),
  attachImage: $<HTMLButtonElement>('attach-image'), attachAudio: $<HTMLButtonElement>('attach-audio'), record: $<HTMLButtonElement>('record'),
  send: $<HTMLButtonElement>('send'), stop: $<HTMLButtonElement>('stop'), imageInput: $<HTMLInputElement>('image-input'),
  audioInput: $<HTMLInputElement>('audio-input'), notice: $('notice'),
};

const state = {
  conversations: loadConversations(),
  activeId: null as string | null,
  models: [] as string[],
  pending: [] as Part[],
  running: null as AbortController | null,
  recording: null as { stop(): Promise<Blob>; cancel(): void } | null,
};

function notice(text: string, kind: 'info' | 'error' = 'info'): void {
  ui.notice.textContent = text;
  ui.notice.dataset.kind = kind;
}

function active(): Conversation | null {
  return state.conversations.find((c) => c.id === state.activeId) ?? null;
}

function persist(): void {
  if (!saveConversations(state.conversations)) notice('Browser storage is full: older conversations could not be saved.', 'error');
}

function renderSidebar(): void {
  ui.conversations.replaceChildren(...state.conversations.map((c) => conversationItem(c, c.id === state.activeId,
    () => { openConversation(c.id); ui.app.classList.remove('sidebar-open'); },
    () => deleteConversation(c.id))));
}

function renderMessages(): void {
  const c = active();
  ui.title.textContent = c ? c.title : 'New chat';
  if (!c || c.messages.length === 0) ui.messages.replaceChildren(emptyState(state.models));
  else ui.messages.replaceChildren(...c.messages.map(messageElement));
  const toBottom = (): void => { ui.messages.scrollTop = ui.messages.scrollHeight; };
  toBottom();
  // images grow the list as they decode: follow them down
  for (const img of ui.messages.querySelectorAll('img')) img.addEventListener('load', toBottom, { once: true });
}

function openConversation(id: string | null): void {
  if (state.running) return;
  state.activeId = id;
  const c = active();
  if (c && state.models.includes(c.model)) ui.model.value = c.model;
  renderSidebar();
  renderMessages();
  ui.input.focus();
}

function deleteConversation(id: string): void {
  if (state.running && id === state.activeId) return;
  state.conversations = state.conversations.filter((c) => c.id !== id);
  if (state.activeId === id) state.activeId = null;
  persist();
  renderSidebar();
  renderMessages();
}

function renderAttachments(): void {
  const atBottom = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 80;
  ui.attachments.replaceChildren(...state.pending.map((p, i) => {
    const chip = document.createElement('div');
    chip.className = `attachment ${p.type}`;
    if (p.type === 'image') {
      const img = document.createElement('img');
      img.src = p.url;
      img.alt = p.name;
      chip.append(img);
    } else {
      const label = document.createElement('span');
      label.innerHTML = icons.audio;
      label.append(document.createTextNode(p.type === 'audio' ? p.name : ''));
      chip.append(label);
    }
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'remove';
    remove.innerHTML = icons.close;
    remove.setAttribute('aria-label', 'Remove attachment');
    remove.addEventListener('click', () => { state.pending.splice(i, 1); renderAttachments(); });
    chip.append(remove);
    return chip;
  }));
  ui.attachments.hidden = state.pending.length === 0;
  // the attachment row takes height from the message list: keep its last message in view
  if (atBottom) ui.messages.scrollTop = ui.messages.scrollHeight;
}

async function addImages(files: Iterable<File>): Promise<void> {
  for (const f of files) {
    if (!f.type.startsWith('image/')) { notice(`${f.name} is not an image`, 'error'); continue; }
    state.pending.push({ type: 'image', url: await readDataUrl(f), name: f.name || 'pasted image' });
  }
  renderAttachments();
}

async function addAudio(blob: Blob, name: string): Promise<void> {
  try {
    const a = await audioAttachment(blob, name);
    state.pending.push({ type: 'audio', url: a.url, format: a.format, name: a.seconds === null ? name : `${name} · ${a.seconds.toFixed(1)} s` });
    renderAttachments();
  } catch (e) {
    notice((e as Error).message, 'error');
  }
}

/** The conversation as OpenAI messages (failed replies are left out; their turn is retried by the next send). */
function apiMessages(c: Conversation): ApiMessage[] {
  const out: ApiMessage[] = [];
  for (const m of c.messages) {
    if (m.role === 'assistant' && (m.state === 'error' || m.state === 'streaming')) continue;
    const text = m.parts.filter((p) => p.type === 'text').map((p) => (p as { text: string }).text).join('');
    if (m.role === 'assistant') {
      const msg: ApiMessage = { role: 'assistant', content: text };
      if (m.toolCalls?.length) msg.tool_calls = m.toolCalls.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } }));
      out.push(msg);
      continue;
    }
    const parts: ApiContentPart[] = [];
    for (const p of m.parts) {
      if (p.type === 'image') parts.push({ type: 'image_url', image_url: { url: p.url } });
      else if (p.type === 'audio') parts.push({ type: 'input_audio', input_audio: { data: p.url.slice(p.url.indexOf(',') + 1), format: p.format } });
      else if (p.type === 'text') parts.push({ type: 'text', text: p.text });
    }
    out.push({ role: 'user', content: parts.length === 1 && parts[0]!.type === 'text' ? parts[0].text : parts });
  }
  return out;
}

function setRunning(controller: AbortController | null): void {
  state.running = controller;
  ui.send.hidden = controller !== null;
  ui.stop.hidden = controller === null;
  document.body.dataset.busy = controller ? 'true' : 'false';
}

async function send(): Promise<void> {
  if (state.running) return;
  const text = ui.input.value.trim();
  if (!text && state.pending.length === 0) return;
  const model = ui.model.value;
  if (!model) { notice('No model to talk to: the server listed none.', 'error'); return; }
  let c = active();
  if (!c) {
    c = newConversation(model);
    state.conversations.unshift(c);
    state.activeId = c.id;
  }
  c.model = model;
  const user: Message = { role: 'user', parts: [...state.pending, ...(text ? [{ type: 'text' as const, text }] : [])] };
  c.messages.push(user);
  c.title = titleOf(c);
  const reply: Message = { role: 'assistant', parts: [{ type: 'text', text: '' }], state: 'streaming' };
  const history = apiMessages(c);
  c.messages.push(reply);
  c.updatedAt = Date.now();
  state.pending = [];
  ui.input.value = '';
  autosize();
  renderAttachments();
  notice('');
  persist();
  renderSidebar();
  renderMessages();
  const bubble = ui.messages.lastElementChild?.querySelector<HTMLElement>('.bubble') ?? null;
  const textPart = reply.parts[0] as { type: 'text'; text: string };
  const update = (): void => {
    if (!bubble || state.activeId !== c.id) return;
    const atBottom = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 80;
    fillMessage(bubble, reply);
    if (atBottom) ui.messages.scrollTop = ui.messages.scrollHeight;
  };
  const controller = new AbortController();
  setRunning(controller);
  try {
    const r = await streamChat(model, history, {
      onText: (d) => { textPart.text += d; update(); },
      onToolCalls: (calls) => {
        reply.toolCalls = [...(reply.toolCalls ?? []), ...calls.map((t) => ({ id: t.id, name: t.function.name, arguments: t.function.arguments }))];
        update();
      },
    }, controller.signal);
    reply.state = 'done';
    if (r.usage) reply.usage = { promptTokens: r.usage.prompt_tokens, completionTokens: r.usage.completion_tokens };
  } catch (e) {
    if (controller.signal.aborted) reply.state = 'stopped';
    else {
      reply.state = 'error';
      reply.error = (e as Error).message;
      if (e instanceof ApiError && e.status === 401) reply.error += ' — set the server’s API key with “API key” in the sidebar.';
    }
  } finally {
    setRunning(null);
    c.updatedAt = Date.now();
    persist();
    update();
    ui.input.focus();
  }
}

function autosize(): void {
  ui.input.style.height = 'auto';
  ui.input.style.height = `${Math.min(ui.input.scrollHeight, 200)}px`;
}

async function toggleRecording(): Promise<void> {
  if (state.recording) {
    const rec = state.recording;
    state.recording = null;
    ui.record.classList.remove('recording');
    notice('');
    try {
      await addAudio(await rec.stop(), `recording ${new Date().toLocaleTimeString()}`);
    } catch (e) {
      notice(`Recording failed: ${(e as Error).message}`, 'error');
    }
    return;
  }
  try {
    state.recording = await startRecording();
    ui.record.classList.add('recording');
    notice('Recording… press the microphone again to stop.');
  } catch (e) {
    notice(`The microphone is not available: ${(e as Error).message}`, 'error');
  }
}

async function loadModels(): Promise<void> {
  try {
    state.models = await listModels();
    ui.model.replaceChildren(...state.models.map((m) => new Option(m, m)));
    const c = active();
    if (c && state.models.includes(c.model)) ui.model.value = c.model;
    if (!active()) renderMessages();
  } catch (e) {
    notice(`Could not list models: ${(e as Error).message}`, 'error');
  }
}

function wire(): void {
  ui.attachImage.innerHTML = icons.image;
  ui.attachAudio.innerHTML = icons.audio;
  ui.record.innerHTML = icons.mic;
  ui.send.innerHTML = icons.send;
  ui.stop.innerHTML = icons.stop;
  ui.toggleSidebar.innerHTML = icons.menu;
  ui.record.hidden = !canRecord();
  ui.composer.addEventListener('submit', (e) => { e.preventDefault(); void send(); });
  ui.input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); void send(); }
  });
  ui.input.addEventListener('input', autosize);
  ui.input.addEventListener('paste', (e) => {
    const files = [...(e.clipboardData?.files ?? [])].filter((f) => f.type.startsWith('image/'));
    if (files.length) { e.preventDefault(); void addImages(files); }
  });
  ui.composer.addEventListener('dragover', (e) => { e.preventDefault(); ui.composer.classList.add('drop'); });
  ui.composer.addEventListener('dragleave', () => ui.composer.classList.remove('drop'));
  ui.composer.addEventListener('drop', (e) => {
    e.preventDefault();
    ui.composer.classList.remove('drop');
    const files = [...(e.dataTransfer?.files ?? [])];
    void addImages(files.filter((f) => f.type.startsWith('image/')));
    for (const f of files.filter((f) => f.type.startsWith('audio/'))) void addAudio(f, f.name);
  });
  ui.attachImage.addEventListener('click', () => ui.imageInput.click());
  ui.attachAudio.addEventListener('click', () => ui.audioInput.click());
  ui.imageInput.addEventListener('change', () => { void addImages([...(ui.imageInput.files ?? [])]); ui.imageInput.value = ''; });
  ui.audioInput.addEventListener('change', () => {
    for (const f of [...(ui.audioInput.files ?? [])]) void addAudio(f, f.name);
    ui.audioInput.value = '';
  });
  ui.record.addEventListener('click', () => void toggleRecording());
  ui.stop.addEventListener('click', () => state.running?.abort());
  ui.newChat.addEventListener('click', () => { openConversation(null); ui.app.classList.remove('sidebar-open'); });
  ui.toggleSidebar.addEventListener('click', () => ui.app.classList.toggle('sidebar-open'));
  ui.model.addEventListener('change', () => {
    const c = active();
    if (c) { c.model = ui.model.value; persist(); }
  });
  ui.apiKey.addEventListener('click', () => {
    const key = prompt('API key of this server (empty: none). It is kept in this browser only.', apiKey() ?? '');
    if (key === null) return;
    setApiKey(key.trim() || null);
    void loadModels();
  });
}

wire();
setRunning(null);
renderAttachments();
openConversation(state.conversations[0]?.id ?? null);
void loadModels();
