/**
 * Blocking (docs/chat-protocol.md, "Blocking"): `block` and `unblock`, answered with the user's
 * whole list (`blocked`), which every other connection of the user gets too, on every node (the
 * user's topic). What a block refuses is refused by the store with the write it guards (ports.ts,
 * RoomStore.block: a message or an edit in the direct message, an invitation), or by the hub before
 * it (opening the direct message, a reaction there, reopening it for the blocker): all answered
 * `not_accepted` with one text (notAccepted), whichever it was. A typing notice there is dropped
 * without a word (typingDropped), as the typing gate drops one. In rooms they share, nothing is
 * refused: the blocked user's messages reach the others, and the blocker's client hides them.
 */
import { dmPeer, type Limits, PROTOCOL_VERSION } from '../../shared/protocol.js';
import type { Backend } from '../ports.js';
import type { Connection } from './connection.js';
import type { LocalRooms, UserEvent } from './local-rooms.js';
import { errorMessage, reply } from './replies.js';

const v = PROTOCOL_VERSION;

/** The one answer to whatever a block refuses (`name`: the blocker, as their account spells it). */
export function notAccepted(name: string): string {
  return `${name} is not accepting messages or invitations from you`;
}

export class BlockHandlers {
  readonly #backend: Backend;
  readonly #local: LocalRooms;
  readonly #limits: Limits;

  constructor(backend: Backend, local: LocalRooms, limits: Limits) {
    this.#backend = backend;
    this.#local = local;
    this.#limits = limits;
  }

  async block(conn: Connection, name: string, ref: string | undefined): Promise<void> {
    const target = await this.#backend.accounts.getUser(name);
    if (!target) return void conn.write(errorMessage('no_such_user', `there is no user ${name}`, { ref }));
    if (target.name === conn.user)
      return void conn.write(errorMessage('cannot_block_self', 'you cannot block yourself', { ref }));
    const max = this.#limits.maxBlockedUsers;
    const { result, dropped } = await this.#backend.rooms.block(conn.user, target.name, max);
    if (result === 'full')
      return void conn.write(
        errorMessage('too_many_blocks', `you can block at most ${max} user${max === 1 ? '' : 's'}`, { ref }),
      );
    await this.#answer(conn, ref);
    // The invitations the block dropped: gone for the blocker's pages, as after a decline.
    for (const room of dropped) this.#local.tellUser(conn.user, { op: 'uninvited', room });
  }

  async unblock(conn: Connection, name: string, ref: string | undefined): Promise<void> {
    const target = await this.#backend.accounts.getUser(name);
    if (!target) return void conn.write(errorMessage('no_such_user', `there is no user ${name}`, { ref }));
    await this.#backend.rooms.unblock(conn.user, target.name);
    await this.#answer(conn, ref);
  }

  /** The list as it is after the change: to this connection, and to the user's others. */
  async #answer(conn: Connection, ref: string | undefined): Promise<void> {
    const users = await this.#backend.rooms.blockedUsers(conn.user);
    reply(conn, ref, { v, type: 'blocked', users });
    this.#local.tellUser(conn.user, { op: 'blocked', users, from: conn.id });
  }

  /** The list changed in another tab or on another node. */
  onUserEvent(conn: Connection, event: Extract<UserEvent, { op: 'blocked' }>): void {
    // Not ready: its hello reads the list itself. The tab that asked has its answer.
    if (conn.closed || !conn.ready || event.from === conn.id) return;
    reply(conn, undefined, { v, type: 'blocked', users: event.users });
  }

  /** The refusal of a write of `user` in the direct message `room` that the store refused 'blocked'. */
  async refusal(room: string, user: string): Promise<string> {
    const peer = dmPeer(room, user);
    return notAccepted((await this.#backend.accounts.getUser(peer))?.name ?? peer);
  }

  /**
   * Whether `user`'s typing notice in `room` is dropped: a direct message whose other user blocks
   * them. It reached the blocker's sockets, where a client other than the page (which hides a
   * blocked user's typing) showed it, as often as the typing gate lets one through. One look-up,
   * by the name the room spells (blocks compares ignoring case); none outside direct messages.
   */
  async typingDropped(room: string, user: string): Promise<boolean> {
    return room.startsWith('dm:') && (await this.#backend.rooms.blocks(dmPeer(room, user), user));
  }

  /** If `room` is a direct message whose other user blocks `user`: the refusal's text; else null. */
  async refusedIn(room: string, user: string): Promise<string | null> {
    if (!room.startsWith('dm:')) return null;
    const peer = await this.#backend.accounts.getUser(dmPeer(room, user));
    if (!peer || !(await this.#backend.rooms.blocks(peer.name, user))) return null;
    return notAccepted(peer.name);
  }
}
