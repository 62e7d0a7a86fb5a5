// Conversations kept in the browser's localStorage: a list of chats, each with its model and messages (text,
// images and audio as data URLs, tool calls). When the quota (about 5 MB) is reached, media of the oldest chats
// is dropped first (their text stays), so saving never fails silently.

export type Part =
  | { type: 'text'; text: string }
  | { type: 'image'; url: string; name: string }
  | { type: 'audio'; url: string; name: string; format: 'wav' | 'mp3' | 'ogg' }
  | { type: 'dropped'; kind: 'image' | 'audio'; name: string };

export interface ToolCallRecord { id: string; name: string; arguments: string }

export interface Message {
  role: 'user' | 'assistant';
  parts: Part[];
  toolCalls?: ToolCallRecord[];
  /** Set on an assistant message: how it ended. */
  state?: 'streaming' | 'done' | 'stopped' | 'error';
  error?: string;
  usage?: { promptTokens: number; completionTokens: number };
}

export interface Conversation {
  id: string;
  title: string;
  model: string;
  createdAt: number;
  updatedAt: number;
  messages: Message[];
}

const storageKey = 'tessera.conversations';

export function loadConversations(): Conversation[] {
  try {
    const raw = localStorage.getItem(storageKey);
    const list = raw ? (JSON.parse(raw) as Conversation[]) : [];
    // A reload mid-answer leaves a message streaming; it was cut off.
    for (const c of list) for (const m of c.messages) if (m.state === 'streaming') m.state = 'stopped';
    return list.sort((a, b) => b.updatedAt - a.updatedAt);
  } catch {
    return [];
  }
}

function dropMedia(c: Conversation): boolean {
  let dropped = false;
  for (const m of c.messages) {
    m.parts = m.parts.map((p) => {
      if (p.type !== 'image' && p.type !== 'audio') return p;
      dropped = true;
      return { type: 'dropped', kind: p.type, name: p.name };
    });
  }
  return dropped;
}

/** Saves every conversation; returns false when even without media they do not fit. */
export function saveConversations(list: Conversation[]): boolean {
  const byAge = [...list].sort((a, b) => a.updatedAt - b.updatedAt);
  for (;;) {
    try {
      localStorage.setItem(storageKey, JSON.stringify(list));
      return true;
    } catch {
      const victim = byAge.find((c) => c.messages.some((m) => m.parts.some((p) => p.type === 'image' || p.type === 'audio')));
      if (!victim || !dropMedia(victim)) return false;
    }
  }
}

export function newConversation(model: string): Conversation {
  const now = Date.now();
  return { id: `c${now.toString(36)}${Math.random().toString(36).slice(2, 8)}`, title: 'New chat', model, createdAt: now, updatedAt: now, messages: [] };
}

/** A title from the first user text (or the first attachment's name). */
export function titleOf(c: Conversation): string {
  const first = c.messages.find((m) => m.role === 'user');
  if (!first) return 'New chat';
  const text = first.parts.find((p) => p.type === 'text')?.text.trim();
  const name = first.parts.find((p) => p.type !== 'text');
  const t = text || (name && 'name' in name ? name.name : 'New chat');
  return t.length > 48 ? `${t.slice(0, 47)}…` : t;
}
