/**
 * Mentions (issue #16): which room members a message's text names as `@name`. The server decides
 * (a client cannot make a message notify someone by claiming it mentions them): a candidate counts
 * when a user of that name (case-insensitively) is a member of the room; the list holds the
 * canonical spellings, sorted. `@name` counts only standing alone (not inside `a@b.c`,
 * `@name-longer` or a link such as `https://example.social/@name`, which the page draws as a link
 * and nobody would expect to notify), and at most MAX_CANDIDATES distinct names per message are
 * looked up.
 */
import type { AccountStore, RoomStore } from '../ports.js';

/** Distinct names looked up per message (each costs a store read). */
export const MAX_CANDIDATES = 20;

const MENTION = /(?<![A-Za-z0-9_-])@([A-Za-z0-9_-]{1,24})(?![A-Za-z0-9_-])/g;
/** A link as the page draws one (web/format.ts): an `@name` in it is a path, never a mention. */
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;

/** The distinct names (lower case) written as `@name` in `text`, in order, at most MAX_CANDIDATES. */
export function mentionCandidates(text: string): string[] {
  if (!text.includes('@')) return [];
  const names = new Set<string>();
  for (const match of text.replace(URL_PATTERN, ' ').matchAll(MENTION)) {
    names.add(match[1].toLowerCase());
    if (names.size === MAX_CANDIDATES) break;
  }
  return [...names];
}

/** The members of `room` that `text` mentions: canonical names, sorted (empty: none). */
export async function resolveMentions(
  text: string,
  room: string,
  accounts: AccountStore,
  rooms: RoomStore,
): Promise<string[]> {
  const found = await Promise.all(
    mentionCandidates(text).map(async (name) => {
      const user = await accounts.getUser(name);
      return user && (await rooms.isMember(user.name, room)) ? user.name : null;
    }),
  );
  return found.filter((name): name is string => name !== null).sort();
}
