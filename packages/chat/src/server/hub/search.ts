/**
 * The `search` request: the words of the query in the rooms the user is a member of (or in the one
 * room named), newest first, a page at a time (search/terms.ts for what matches; the backend's
 * MessageSearch for how). Membership is read from the store at each request, so a room left or
 * deleted since is never searched; and asked again after the hits are read, for the rooms they came
 * from (one memberOf: one round trip), as history is (hub.ts): a user removed while the search ran
 * (through another node, say) gets no hit of that room, so none written after the removal. Asked
 * last, it answers for every hit kept: each was committed before the user was seen still in its
 * room, and a member may read the whole log. A search of one room the user is out of by then is
 * refused `not_member`, as its history is.
 */
import {
  type ClientMessage,
  PROTOCOL_VERSION,
  SEARCH_PAGE,
  type ServerMessage,
} from '../../shared/protocol.js';
import type { Backend } from '../ports.js';
import { parseQuery } from '../search/terms.js';
import type { Connection } from './connection.js';
import { errorMessage, reply } from './replies.js';

type SearchRequest = Extract<ClientMessage, { type: 'search' }>;

export async function search(
  conn: Connection,
  backend: Backend,
  msg: SearchRequest,
  ref: string | undefined,
): Promise<void> {
  const terms = parseQuery(msg.query);
  if ('error' in terms) return void conn.write(errorMessage('bad_message', terms.error, { ref }));
  let rooms: string[];
  if (msg.room !== undefined) {
    if (!(await backend.rooms.isMember(conn.user, msg.room)))
      return void conn.write(errorMessage('not_member', `you are not in room ${msg.room}`, { ref }));
    rooms = [msg.room];
  } else rooms = (await backend.rooms.memberships(conn.user)).map((m) => m.room);
  const page = await backend.search.search(rooms, terms, msg.before, SEARCH_PAGE);
  if (!page)
    return void conn.write(
      errorMessage('bad_message', 'before must be a cursor from a search reply', { ref }),
    );
  const found = [...new Set(page.hits.map((h) => h.room))];
  const still = found.length > 0 ? await backend.rooms.memberOf(conn.user, found) : new Set<string>();
  if (msg.room !== undefined && found.length > 0 && !still.has(msg.room))
    return void conn.write(errorMessage('not_member', `you are not in room ${msg.room}`, { ref }));
  const hits = page.hits.filter((h) => still.has(h.room));
  const message: ServerMessage = { v: PROTOCOL_VERSION, type: 'search', query: msg.query, hits };
  if (page.next !== undefined) message.next = page.next;
  reply(conn, ref, message);
}
