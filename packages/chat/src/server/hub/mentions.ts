/**
 * Mentions (issue #16): which room members a message's text names as `@name`. The server decides
 * (a client cannot make a message notify someone by claiming it mentions them): a candidate counts
 * when a user of that name (case-insensitively) is a member of the room; the list holds the
 * canonical spellings, sorted. What is an `@name` is the page's own parser (shared/markup.ts), so
 * the server counts exactly what the page can highlight: standing alone (not inside `a@b.c` or
 * `@name-longer`), and never in a code span, a fenced block or a link such as
 * `https://example.social/@name`. At most MAX_CANDIDATES distinct names per message are looked up.
 */
import { mentionNames } from '../../shared/markup.js';
import type { AccountStore, RoomStore } from '../ports.js';

/** Distinct names looked up per message (each costs a store read). */
export const MAX_CANDIDATES = 20;

/** The distinct names (lower case) written as `@name` in `text`, in order, at most MAX_CANDIDATES. */
export function mentionCandidates(text: string): string[] {
  if (!text.includes('@')) return [];
  return mentionNames(text).slice(0, MAX_CANDIDATES);
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
