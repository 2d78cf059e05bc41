/**
 * `@name` autocomplete without a DOM: the `@prefix` being typed at the caret, the names that match
 * it, and the text with the chosen name put in. The names are the room's known members (online,
 * and the authors of its loaded messages); the server decides what is a mention.
 */
const QUERY = /(^|[^\p{L}\p{N}_@])@([A-Za-z0-9_-]{0,24})$/u;

export interface MentionQuery {
  /** Index of the `@`. */
  start: number;
  prefix: string;
}

/** The `@prefix` right before the caret, if any. */
export function mentionAt(text: string, caret: number): MentionQuery | null {
  const m = QUERY.exec(text.slice(0, caret));
  if (!m) return null;
  return { start: caret - m[2].length - 1, prefix: m[2] };
}

/** Names starting with the prefix (case-insensitively), then those containing it; at most `max`. */
export function mentionCandidates(prefix: string, names: Iterable<string>, me: string, max = 6): string[] {
  const p = prefix.toLowerCase();
  const all = [...new Set(names)].filter((n) => n.toLowerCase() !== me.toLowerCase()).sort();
  const starts = all.filter((n) => n.toLowerCase().startsWith(p));
  const contains = all.filter((n) => !n.toLowerCase().startsWith(p) && n.toLowerCase().includes(p));
  return [...starts, ...contains].slice(0, max);
}

/** The text with `@prefix` replaced by `@name ` and the caret after it. */
export function insertMention(
  text: string,
  caret: number,
  query: MentionQuery,
  name: string,
): { text: string; caret: number } {
  const before = text.slice(0, query.start);
  const after = text.slice(caret);
  const inserted = `@${name} `;
  return { text: before + inserted + after.replace(/^ /, ''), caret: before.length + inserted.length };
}
