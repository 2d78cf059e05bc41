/**
 * The parts of a message that every store presents the same way (issue #16): the quote of the
 * message replied to, and the reactions map. Stores keep their own raw form and call these on read,
 * so SQLite and Redis answer identically (the protocol doc's examples run on both).
 */
import { REPLY_EXCERPT_CHARS, type Reactions, type ReplyQuote } from '../../shared/protocol.js';

/** Orders strings by Unicode code point (JS's default sort orders UTF-16 code units). */
export function byCodePoint(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i].codePointAt(0) ?? 0) - (y[i].codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** The first REPLY_EXCERPT_CHARS code points of `text` (Redis's Lua cuts at the same place). */
export function excerpt(text: string): string {
  if (text.length <= REPLY_EXCERPT_CHARS) return text;
  return [...text].slice(0, REPLY_EXCERPT_CHARS).join('');
}

/** The quote of a message as it is now: a deleted text is never sent again. */
export function quoteOf(target: { seq: number; user: string; text: string; deleted?: boolean }): ReplyQuote {
  if (target.deleted) return { seq: target.seq, user: target.user, text: '', deleted: true };
  return { seq: target.seq, user: target.user, text: excerpt(target.text) };
}

/** Builds the reactions map from (emoji, user) pairs: emoji and users in code point order. */
export function reactionsOf(pairs: Iterable<readonly [string, string]>): Reactions | undefined {
  const byEmoji = new Map<string, string[]>();
  for (const [emoji, user] of pairs) {
    const users = byEmoji.get(emoji);
    if (users) users.push(user);
    else byEmoji.set(emoji, [user]);
  }
  if (byEmoji.size === 0) return undefined;
  const out: Reactions = {};
  for (const emoji of [...byEmoji.keys()].sort(byCodePoint))
    out[emoji] = byEmoji.get(emoji)!.sort(byCodePoint);
  return out;
}
