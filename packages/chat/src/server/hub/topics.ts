/**
 * The `topic` request: what a room is for, one line under its name, set by whoever runs the room.
 *
 * Who may: the owner of a public or private room, either user of a direct message, and a server
 * admin (membership.ts, isAdmin) in any public room; `general` has no owner, so only an admin sets
 * its topic. The store decides it with the write (RoomStore.setTopic), so
 * a room deleted and made again by someone else since this connection looked is not changed by
 * its former owner. A change is a room event (`topic`) with its own seq: it reaches every
 * connection of the room on every node like a message, and a replay sends it once; the room's
 * topic (RoomState, RoomListing) changes in the same step. It is no message: not unread, no
 * notification, not searched. The same topic again stores nothing (acknowledged `duplicate`).
 */
import { type ClientMessage, PROTOCOL_VERSION, type ServerMessage } from '../../shared/protocol.js';
import type { Backend } from '../ports.js';
import type { Connection } from './connection.js';
import { errorMessage, reply } from './replies.js';
import { normalizeTopic } from './validate.js';

type TopicRequest = Extract<ClientMessage, { type: 'topic' }>;

export async function setTopic(
  conn: Connection,
  backend: Backend,
  msg: TopicRequest,
  now: number,
  ref: string | undefined,
  admin: boolean,
): Promise<void> {
  const res = await backend.rooms.setTopic({
    room: msg.room,
    user: conn.user,
    text: normalizeTopic(msg.text),
    ts: now,
    ...(admin ? { admin } : {}),
  });
  if (!res.ok) {
    // A room deleted since answers as one the user was removed from (as send does: hub.ts).
    if (res.reason !== 'forbidden')
      return void conn.write(errorMessage('not_member', `you are not in room ${msg.room}`, { ref }));
    return void conn.write(errorMessage('forbidden', 'only the owner of a room can set its topic', { ref }));
  }
  const ack: ServerMessage = res.event
    ? { v: PROTOCOL_VERSION, type: 'ack', room: msg.room, seq: res.event.seq, ts: res.event.ts }
    : { v: PROTOCOL_VERSION, type: 'ack', room: msg.room, seq: res.head, ts: now, duplicate: true };
  reply(conn, ref, ack);
}
