/**
 * Reactions without a DOM: applying a `reacted` event to a message's reactions (idempotent set
 * semantics, as the protocol defines: applying the replayed events again changes nothing), what
 * a reaction chip says on hover, and whether a typed string is one emoji.
 */
import type { Reactions } from '../shared/protocol.js';

/** The picker's common reactions. */
export const COMMON_REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '😢', '👀', '✅'];

/** Sets (`on`) or removes `user`'s `emoji`; returns the new map (undefined when empty). */
export function applyReaction(
  reactions: Reactions | undefined,
  user: string,
  emoji: string,
  on: boolean,
): Reactions | undefined {
  const next: Reactions = { ...reactions };
  const users = new Set(next[emoji] ?? []);
  if (on) users.add(user);
  else users.delete(user);
  if (users.size === 0) delete next[emoji];
  else next[emoji] = [...users].sort();
  // Emoji in code point order, as the server sends them.
  const ordered: Reactions = {};
  for (const key of Object.keys(next).sort(byCodePoint)) ordered[key] = next[key];
  return Object.keys(ordered).length === 0 ? undefined : ordered;
}

function byCodePoint(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0) ?? 0);
  const y = [...b].map((c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** "alice, bob and you reacted with 👍". */
export function whoReacted(users: readonly string[], me: string, emoji: string): string {
  const names = users.filter((u) => u !== me);
  if (users.includes(me)) names.push('you');
  const list = names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
  return `${list} reacted with ${emoji}`;
}

const PICTOGRAPH = /\p{Extended_Pictographic}/u;
const FLAG = /^\p{Regional_Indicator}{2}$/u;
const KEYCAP = /^[0-9#*]\uFE0F?\u20E3$/u;

/** The first grapheme of `typed` if it is an emoji (a check before asking; the server decides). */
export function typedEmoji(typed: string): string | null {
  const text = typed.trim();
  if (text === '') return null;
  const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  const first = segmenter.segment(text)[Symbol.iterator]().next().value?.segment ?? '';
  if (first !== text) return null;
  return PICTOGRAPH.test(first) || FLAG.test(first) || KEYCAP.test(first) ? first : null;
}
