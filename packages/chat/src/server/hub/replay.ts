/**
 * Bringing one connection up to date in one room, then live: the only way a connection enters a
 * room's live stream (after hello, join, an invitation, or a sync).
 *
 *   cursor ──store pages (with backpressure)──► near head ──recent events──► head ══► subscribe
 *                                                                  (same tick, nothing in between)
 *
 * - Pages come from the store, `PAGE` events at a time, each written only when the socket has room
 *   (Connection.drained): a replay of any length holds about one socket buffer and one page.
 * - Only events up to the channel's head are sent from the store; the rest are still on their way
 *   through the channel and are taken from its recent list, or from the next page.
 * - Going live is synchronous: the notices heard meanwhile, the `synced` reply, and the topic
 *   subscription happen in one tick, so the next event the channel publishes is the next seq.
 */
import { eventSeq, PROTOCOL_VERSION, type RoomEvent, type ServerMessage } from '../../shared/protocol.js';
import type { RoomStore } from '../ports.js';
import type { Connection, ConnRoom } from './connection.js';
import { reply } from './replies.js';

const PAGE = 16;
/** Most events written at once from the channel's recent list (without waiting for the socket). */
const BURST = 32;

const encode = (event: RoomEvent) => JSON.stringify({ v: PROTOCOL_VERSION, ...event });

/**
 * Sends the events after cr.cursor, then goes live; `synced` (if given) is written when the replay
 * is complete, with the head it reached. Resolves false if the connection went away meanwhile, or
 * if the log could not supply the events (a gap): the caller then sends `reset`.
 */
export async function replay(
  conn: Connection,
  cr: ConnRoom,
  store: RoomStore,
  synced?: { ref: string | undefined },
): Promise<'live' | 'gone' | 'gap'> {
  const channel = cr.channel;
  for (;;) {
    if (conn.closed || conn.rooms.get(cr.room) !== cr) return 'gone';
    // The room's log went back while this ran: what was sent may not be in the store any more.
    if (cr.reload) return 'gap';
    if (cr.cursor >= channel.head) break;
    const recent = channel.head - cr.cursor <= BURST ? channel.recentFrom(cr.cursor + 1) : null;
    if (recent !== null) {
      for (const payload of recent) conn.write(payload);
      cr.cursor = channel.head;
      break;
    }
    const events = await store.eventsAfter(cr.room, cr.cursor, Math.min(PAGE, channel.head - cr.cursor));
    if (conn.closed || conn.rooms.get(cr.room) !== cr) return 'gone';
    if (cr.reload) return 'gap';
    if (events.length === 0 || eventSeq(events[0]) !== cr.cursor + 1) return 'gap';
    for (const event of events) {
      const seq = eventSeq(event);
      if (seq > channel.head) break;
      if (seq !== cr.cursor + 1) return 'gap';
      if (!conn.write(encode(event))) return 'gone';
      cr.cursor = seq;
      if (conn.congested) await conn.drained();
      if (conn.closed || conn.rooms.get(cr.room) !== cr) return 'gone';
      if (cr.reload) return 'gap';
    }
  }
  goLive(conn, cr, synced);
  return 'live';
}

/** Writes the kept notices and `synced`, and subscribes, all in this tick (cursor === head). */
export function goLive(conn: Connection, cr: ConnRoom, synced?: { ref: string | undefined }): void {
  const notices = cr.notices;
  cr.notices = [];
  for (const payload of notices) conn.write(payload);
  if (synced) {
    const reply: ServerMessage = { v: PROTOCOL_VERSION, type: 'synced', room: cr.room, head: cr.cursor };
    if (synced.ref !== undefined) reply.ref = synced.ref;
    conn.write(JSON.stringify(reply));
  }
  cr.live = true;
  conn.subscribe(cr.channel.topic);
}

/**
 * Instead of a replay (too far behind, a seq the room does not have, a gap, a log that went back):
 * the client must reload the room with `history`; the events after `head` follow, live.
 */
export function reset(conn: Connection, cr: ConnRoom, ref: string | undefined): void {
  if (conn.closed || conn.rooms.get(cr.room) !== cr) return;
  leaveLive(conn, cr);
  cr.reload = false;
  cr.cursor = cr.channel.head;
  reply(conn, ref, { v: PROTOCOL_VERSION, type: 'reset', room: cr.room, head: cr.cursor });
  goLive(conn, cr);
}

/** Leaves the live stream of the room (a sync starts): events and notices wait for the replay. */
export function leaveLive(conn: Connection, cr: ConnRoom): void {
  if (!cr.live) return;
  cr.live = false;
  cr.notices = [];
  conn.unsubscribe(cr.channel.topic);
}
