/**
 * Membership requests: create, join, leave, invite, remove (and a public room's bans: unban, bans),
 * dm, delete_room; and their echo on the user's other connections (any node), which hear them on
 * the user's topic as UserEvents (with the read marker another tab moved, passed on as a `read`
 * without `ref`).
 *
 * Access rules (docs/chat-protocol.md, "Rooms"):
 * - public rooms: anyone may list and join them, but whom their owner removed (banned) until the
 *   owner lifts it; never the owner themselves (nobody bans the owner from their own room). A
 *   server admin (config: ChatServerOptions.admins, main.ts --admin; each node's own, never
 *   stored) may do there what the owner may (remove, unban, bans), in every public room,
 *   general (which has no owner) and those whose owner is gone included; in private rooms and
 *   direct messages nothing (they are their members' own). The stores check "the owner, or any
 *   public room for an admin" in their own step: the hub vouches for the admin with a flag.
 *   Nobody removes a server admin from a public room (they could lift the ban themselves): the
 *   hub alone refuses it, as the stores do not know the admins.
 * - private rooms: only members see them; the owner invites and removes; to anyone else a private
 *   room does not exist (`no_such_room`, the same answer as for a missing room). An invitation is
 *   pending until the invitee accepts it (then they join, their own choice, against their cap at
 *   that moment) or declines it; pending ones are capped per invitee and per room and expire
 *   (Limits), so invitations cannot fill anyone's rooms.
 * - direct messages: a room of exactly two users, named dm:<a>:<b>; only `dm` enters it, without
 *   the other's consent (as in a workspace chat), and DMs count against their own cap
 *   (maxDmsPerUser), never against the rooms one can join or create (maxRoomsPerUser).
 * A room's events and notices reach only connections in the room, and a connection enters a room
 * only here (or at hello) after the store confirmed the membership, on every node.
 */
import {
  DEFAULT_ROOM,
  dmPeer,
  dmRoom,
  type Invitation,
  type Limits,
  PROTOCOL_VERSION,
  type RoomKind,
  type ServerMessage,
} from '../../shared/protocol.js';
import { createDefaultRoom } from '../default-room.js';
import type { Backend, Clock, LogChange, Membership } from '../ports.js';
import { notAccepted } from './blocks.js';
import type { Connection } from './connection.js';
import type { LocalRooms, UserEvent } from './local-rooms.js';
import { replay, reset } from './replay.js';
import { errorMessage, reply } from './replies.js';

const v = PROTOCOL_VERSION;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export class MembershipHandlers {
  readonly #backend: Backend;
  readonly #local: LocalRooms;
  readonly #limits: Limits;
  readonly #clock: Clock;
  /** The server admins' names in lower case (names are unique ignoring case, as getUser finds them). */
  readonly #admins: ReadonlySet<string>;

  constructor(
    backend: Backend,
    local: LocalRooms,
    options: { limits: Limits; clock: Clock; admins?: readonly string[] },
  ) {
    this.#backend = backend;
    this.#local = local;
    this.#limits = options.limits;
    this.#clock = options.clock;
    this.#admins = new Set((options.admins ?? []).map((name) => name.toLowerCase()));
  }

  /**
   * Whether the account `user` is a server admin: its name equal to an --admin name ignoring case,
   * as accounts are found. Not by skeleton: a look-alike account (`aIice` for `alice`) is another
   * account, and no admin.
   */
  isAdmin(user: string): boolean {
    return this.#admins.has(user.toLowerCase());
  }

  /** The user is in as many rooms as one may be (maxRoomsPerUser; DMs have their own cap). */
  #atRoomCap(conn: Connection, ref: string | undefined): void {
    this.#fail(
      conn,
      ref,
      'too_many_rooms',
      `you can be in at most ${plural(this.#limits.maxRoomsPerUser, 'room')}`,
    );
  }

  #fail(
    conn: Connection,
    ref: string | undefined,
    code: Parameters<typeof errorMessage>[0],
    message: string,
  ): void {
    conn.write(errorMessage(code, message, { ref }));
  }

  /**
   * Puts the connection in a room it is a member of: `joined` (with `ref` for the requester),
   * then whatever arrived since its head, then live.
   */
  async #enter(
    conn: Connection,
    room: string,
    membership: Omit<Membership, 'room'>,
    ref: string | undefined,
  ) {
    const cr = await this.#local.enter(conn, room);
    const state = await this.#local.state(conn, cr, membership);
    reply(conn, ref, { v, type: 'joined', ...state });
    if ((await replay(conn, cr, this.#backend.rooms)) === 'gap') reset(conn, cr, undefined);
  }

  async create(conn: Connection, room: string, isPrivate: boolean, ref: string | undefined): Promise<void> {
    if (room === DEFAULT_ROOM) return this.#createDefault(conn, isPrivate, ref);
    const rooms = this.#backend.rooms;
    const mine = (await rooms.memberships(conn.user)).filter((m) => m.kind !== 'dm');
    if (mine.length >= this.#limits.maxRoomsPerUser) return this.#atRoomCap(conn, ref);
    const kind: RoomKind = isPrivate ? 'private' : 'public';
    const created = await rooms.createRoom(
      { name: room, kind, owner: conn.user, createdAt: this.#clock.now() },
      { maxRooms: this.#limits.maxRooms, maxOwnedRooms: this.#limits.maxOwnedRooms },
    );
    if (created === 'exists') return this.#fail(conn, ref, 'room_exists', `room ${room} already exists`);
    if (created === 'owner_quota')
      return this.#fail(
        conn,
        ref,
        'room_quota',
        `you own ${plural(this.#limits.maxOwnedRooms, 'room')}, the most allowed`,
      );
    if (created === 'server_quota')
      return this.#fail(
        conn,
        ref,
        'room_quota',
        `the server has ${plural(this.#limits.maxRooms, 'room')}, the most allowed`,
      );
    await this.#joinSelf(conn, room, { kind, owner: conn.user }, ref);
  }

  /**
   * `create` of the default room's name. To clients it always exists (every account starts in it);
   * a store that lost it (a Redis that came back empty) has it made again here as a node's start
   * and a sign-up make it (default-room.ts): public, with no owner, never the creator's. Then a
   * public create joins the user, as `join` would, the room they asked for by name; a private one
   * is refused `room_exists`, as when it was there: it asked for a room nobody else could see,
   * and this one is everybody's.
   */
  async #createDefault(conn: Connection, isPrivate: boolean, ref: string | undefined): Promise<void> {
    const created = await createDefaultRoom(this.#backend.rooms, this.#clock.now());
    if (created !== 'created' || isPrivate)
      return this.#fail(conn, ref, 'room_exists', `room ${DEFAULT_ROOM} already exists`);
    await this.#joinSelf(conn, DEFAULT_ROOM, { kind: 'public', owner: null }, ref);
  }

  async join(conn: Connection, room: string, ref: string | undefined): Promise<void> {
    let info = await this.#backend.rooms.getRoom(room);
    // The default room exists for clients whatever the store lost (a Redis that came back empty):
    // a join of it makes it again, as a create of it does (#createDefault), rather than no_such_room.
    if (!info && room === DEFAULT_ROOM) {
      await createDefaultRoom(this.#backend.rooms, this.#clock.now());
      info = await this.#backend.rooms.getRoom(room);
    }
    const visible =
      info !== null && (info.kind === 'public' || (await this.#backend.rooms.isMember(conn.user, room)));
    if (!info || !visible) return this.#fail(conn, ref, 'no_such_room', `room ${room} does not exist`);
    // 'public': checked again by the store with the add, so a room deleted and made again as
    // private since the look above lets nobody in (a member of it is answered 'member').
    await this.#joinSelf(conn, room, { kind: info.kind, owner: info.owner }, ref, 'public');
  }

  async #joinSelf(
    conn: Connection,
    room: string,
    info: { kind: RoomKind; owner: string | null },
    ref: string | undefined,
    kind?: RoomKind,
  ): Promise<void> {
    const user = conn.user;
    const result = await this.#backend.rooms.join(user, room, this.#limits.maxRoomsPerUser, kind);
    if (result === 'no_room') return this.#fail(conn, ref, 'no_such_room', `room ${room} does not exist`);
    if (result === 'too_many_rooms') return this.#atRoomCap(conn, ref);
    if (result === 'banned')
      // Its owner's ban or a server admin's (the store does not keep whose): true of either.
      return this.#fail(conn, ref, 'banned', 'you are banned from this room');
    const lastRead =
      result === 'joined' ? await this.#backend.rooms.head(room) : await this.#lastRead(user, room);
    await this.#enter(conn, room, { ...info, lastRead }, ref);
    if (result === 'joined') {
      this.#local.notice(room, { v, type: 'member', room, user, joined: true });
      this.#local.tellUser(user, { op: 'joined', room });
    }
  }

  async #lastRead(user: string, room: string): Promise<number> {
    const m = (await this.#backend.rooms.memberships(user)).find((x) => x.room === room);
    return m?.lastRead ?? 0;
  }

  async leave(conn: Connection, room: string, ref: string | undefined): Promise<void> {
    const user = conn.user;
    const removed = await this.#asking(conn, room, () =>
      this.#backend.rooms.leave(user, room, this.#clock.now()),
    );
    await this.#local.exit(conn, room);
    reply(conn, ref, { v, type: 'left', room });
    if (removed) {
      this.#local.notice(room, { v, type: 'member', room, user, joined: false });
      this.#local.tellUser(user, { op: 'left', room });
    }
  }

  /** Invitations made at or before this moment have expired (Limits.invitationTtlMs). */
  #expiredAt(): number {
    return this.#clock.now() - this.#limits.invitationTtlMs;
  }

  /**
   * The sweep's: drops the invitations past invitationTtlMs and tells their users' connections, on
   * every node, `uninvited` (as a decline in another tab would). A store drops each once, so of
   * the nodes sweeping at once one tells.
   */
  async expireInvitations(): Promise<number> {
    const expired = await this.#backend.rooms.expireInvitations(this.#expiredAt());
    this.uninvited(expired);
    return expired.length;
  }

  /** Invitations the store dropped without their users (expired, their room gone): told, every node. */
  uninvited(dropped: { user: string; room: string }[]): void {
    for (const { user, room } of dropped) this.#local.tellUser(user, { op: 'uninvited', room });
  }

  /** The user's pending invitations, oldest first (welcome). */
  async invitations(user: string): Promise<Invitation[]> {
    const records = await this.#backend.rooms.invitations(user, this.#expiredAt());
    return records.map((r) => ({ room: r.room, by: r.by, ts: r.at }));
  }

  /**
   * The owner invites a user to their private room: a pending invitation (the store checks and
   * caps it), told to the invitee's connections on every node; they join only by accepting it.
   */
  async invite(conn: Connection, room: string, name: string, ref: string | undefined): Promise<void> {
    const info = await this.#backend.rooms.getRoom(room);
    if (!info) return this.#fail(conn, ref, 'no_such_room', `room ${room} does not exist`);
    if (info.kind !== 'private' || info.owner !== conn.user)
      return this.#fail(conn, ref, 'forbidden', 'only the owner of a private room can invite to it');
    const target = await this.#backend.accounts.getUser(name);
    if (!target) return this.#fail(conn, ref, 'no_such_user', `there is no user ${name}`);
    const now = this.#clock.now();
    const limits = this.#limits;
    // The store checks the owner again with the write (`by`): a room deleted and made again by
    // another user since the look above is answered as no room (it is not this owner's).
    const result = await this.#backend.rooms.invite(room, target.name, conn.user, now, {
      perUser: limits.maxInvitationsPerUser,
      perRoom: limits.maxInvitationsPerRoom,
      expiredAt: now - limits.invitationTtlMs,
    });
    if (result === 'no_room') return this.#fail(conn, ref, 'no_such_room', `room ${room} does not exist`);
    // Nothing was done: said as such, not answered `invited` as if someone had been let in (the
    // owner, in the room to invite, is always a member).
    if (result === 'member')
      return this.#fail(
        conn,
        ref,
        'already_member',
        target.name === conn.user
          ? `you are already in room ${room}`
          : `${target.name} is already in room ${room}`,
      );
    // Also after the invitee declined it (the store keeps a declined one for its owner until it
    // expires): the owner is never told of a decline, and `invited` here would tell it.
    if (result === 'already_invited')
      return this.#fail(conn, ref, 'already_invited', `${target.name} is already invited to room ${room}`);
    // The invitee's pending invitations are theirs: the owner is told that this one was not made
    // (the code, for the page), not how many others the invitee has.
    if (result === 'user_full')
      return this.#fail(
        conn,
        ref,
        'too_many_invitations',
        `${target.name} cannot be invited now: try again later`,
      );
    // The invitee blocks the owner (the store checks it with the write): nothing is stored or told.
    if (result === 'blocked') return this.#fail(conn, ref, 'not_accepted', notAccepted(target.name));
    if (result === 'room_full')
      return this.#fail(
        conn,
        ref,
        'room_invitations_full',
        `room ${room} has ${plural(limits.maxInvitationsPerRoom, 'pending invitation')}, the most allowed`,
      );
    reply(conn, ref, { v, type: 'invited', room, user: target.name });
    this.#local.tellUser(target.name, { op: 'invitation', invitation: { room, by: conn.user, ts: now } });
  }

  /**
   * The invitee accepts: the store takes the invitation and joins them in one step (their cap on
   * rooms checked then; at it, the invitation stays). Without one it is as if there were no room.
   */
  async accept(conn: Connection, room: string, ref: string | undefined): Promise<void> {
    const user = conn.user;
    const rooms = this.#backend.rooms;
    const result = await rooms.accept(user, room, this.#limits.maxRoomsPerUser, this.#expiredAt());
    if (result === 'too_many_rooms') return this.#atRoomCap(conn, ref);
    const info = result === 'no_invitation' ? null : await rooms.getRoom(room);
    if (!info) return this.#fail(conn, ref, 'no_such_room', `you have no invitation to room ${room}`);
    // The user's other connections: the invitation is gone (this one has its `joined`).
    this.#local.tellUser(user, { op: 'uninvited', room, from: conn.id });
    const lastRead = result === 'joined' ? await rooms.head(room) : await this.#lastRead(user, room);
    await this.#enter(conn, room, { kind: info.kind, owner: info.owner, lastRead }, ref);
    if (result === 'joined') {
      this.#local.notice(room, { v, type: 'member', room, user, joined: true });
      this.#local.tellUser(user, { op: 'joined', room });
    }
  }

  /**
   * The invitee declines: the invitation is gone for them (the owner is not told, and the store keeps
   * it as pending to the owner's eyes until it expires: RoomStore.dropInvitation).
   */
  async decline(conn: Connection, room: string, ref: string | undefined): Promise<void> {
    if (!(await this.#backend.rooms.dropInvitation(conn.user, room)))
      return this.#fail(conn, ref, 'no_such_room', `you have no invitation to room ${room}`);
    reply(conn, ref, { v, type: 'uninvited', room });
    this.#local.tellUser(conn.user, { op: 'uninvited', room, from: conn.id });
  }

  /**
   * The owner takes a member out of their room. The member's connections, on every node, leave it
   * as after a leave in another tab (the `member` notice first, while they are still in the room,
   * then `left`), told why: `reason: 'removed'`. Their messages stay. From a private room, a new
   * invitation brings them back; from a public room they are banned (#removeFromPublic) until the
   * owner lifts it.
   */
  async remove(conn: Connection, room: string, name: string, ref: string | undefined): Promise<void> {
    const info = await this.#backend.rooms.getRoom(room);
    if (!info) return this.#fail(conn, ref, 'no_such_room', `room ${room} does not exist`);
    // general has no owner (null): only a server admin removes from it, as from any public room.
    const admin = info.kind === 'public' && info.owner !== conn.user && this.isAdmin(conn.user);
    if (info.kind === 'dm' || (info.owner !== conn.user && !admin))
      return this.#fail(conn, ref, 'forbidden', 'only the owner of a room can remove from it');
    const target = await this.#backend.accounts.getUser(name);
    if (!target) return this.#fail(conn, ref, 'no_such_user', `there is no user ${name}`);
    if (target.name === conn.user)
      return this.#fail(
        conn,
        ref,
        'bad_message',
        admin
          ? 'you cannot remove yourself: use leave'
          : 'the owner cannot remove themselves: use leave or delete_room',
      );
    // A server admin's ban of a public room's owner would mean nothing (the owner lifts it with
    // unban); in a private room only the owner removes, themselves refused above. The store checks
    // it again with the ban, as the owner may have changed (the room deleted and made again).
    if (target.name === info.owner) return this.#ownerStays(conn, ref);
    // A server admin unbans in every public room, so a ban of one from a public room (the owner's,
    // or another admin's) would mean nothing: refused as the owner's is. The stores do not know the
    // admins (config, each node's own), so this check is the only one. In a private room an admin
    // has no powers, and its owner removes them as anyone.
    if (info.kind === 'public' && this.isAdmin(target.name))
      return this.#fail(conn, ref, 'forbidden', 'a server admin cannot be removed from a public room');
    if (info.kind === 'public') return this.#removeFromPublic(conn, room, target.name, admin, ref);
    // The owner is checked again by the store with the removal (and with the invitation's drop): a
    // room deleted and made again by another user since the look above loses nobody.
    const owner = conn.user;
    const rooms = this.#backend.rooms;
    const out = () => rooms.leave(target.name, room, this.#clock.now(), 'removed', owner);
    // Not a member: the invitation is taken back instead. Neither: the invitee may have accepted it
    // between the two steps (the drop then finds it gone with the join), so the leave is tried
    // again. What the owner is told is what the store did: no member of the room by the name
    // remains when the answer is `not_member` (only the owner's own new invitation lets them in
    // after the drop found none).
    if (!(await out())) {
      if (await rooms.dropInvitation(target.name, room, owner)) {
        reply(conn, ref, { v, type: 'removed', room, user: target.name });
        return this.#local.tellUser(target.name, { op: 'uninvited', room });
      }
      if (!(await out())) return this.#fail(conn, ref, 'not_member', `${target.name} is not in room ${room}`);
    }
    reply(conn, ref, { v, type: 'removed', room, user: target.name });
    this.#local.notice(room, { v, type: 'member', room, user: target.name, joined: false });
    this.#local.tellUser(target.name, { op: 'left', room, reason: 'removed' });
  }

  /**
   * The owner takes `user` out of their public room and keeps them out: the ban first, then the
   * removal. The store checks the ban with every join's add, so a join stored after the ban is
   * refused `banned`, and one stored before it is a membership the removal then ends (both with
   * the owner checked again in their step: a room deleted and made again by someone else, or as
   * private, since the look in `remove` bans and removes nobody). A user who is not a member is
   * banned all the same (one who left to dodge it): answered `removed`, with nobody to tell.
   */
  async #removeFromPublic(
    conn: Connection,
    room: string,
    user: string,
    admin: boolean,
    ref: string | undefined,
  ) {
    const rooms = this.#backend.rooms;
    const max = this.#limits.maxBansPerRoom;
    const banned = await rooms.ban(room, user, conn.user, max, admin);
    if (banned === 'no_room') return this.#fail(conn, ref, 'no_such_room', `room ${room} does not exist`);
    if (banned === 'owner') return this.#ownerStays(conn, ref);
    if (banned === 'full')
      return this.#fail(
        conn,
        ref,
        'too_many_bans',
        `room ${room} bans ${plural(max, 'user')}, the most allowed: unban someone first`,
      );
    const left = await rooms.leave(user, room, this.#clock.now(), 'removed', conn.user, admin);
    reply(conn, ref, { v, type: 'removed', room, user });
    await this.#tellModerators(conn, room, { op: 'moderated', room, user, banned: true, from: conn.id });
    if (!left) return;
    this.#local.notice(room, { v, type: 'member', room, user, joined: false });
    this.#local.tellUser(user, { op: 'left', room, reason: 'removed' });
  }

  #ownerStays(conn: Connection, ref: string | undefined): void {
    this.#fail(conn, ref, 'forbidden', "the room's owner cannot be removed from it");
  }

  /**
   * The checks of unban and bans: a public room of theirs (general has none), or any public room
   * for a server admin. Answers null (refused, told) or whether the hub vouches for an admin.
   */
  async #moderates(
    conn: Connection,
    room: string,
    ref: string | undefined,
    what: string,
  ): Promise<{ admin: boolean } | null> {
    const info = await this.#backend.rooms.getRoom(room);
    if (!info) this.#fail(conn, ref, 'no_such_room', `room ${room} does not exist`);
    else if (info.kind === 'public' && info.owner === conn.user) return { admin: false };
    else if (info.kind === 'public' && this.isAdmin(conn.user)) return { admin: true };
    else this.#fail(conn, ref, 'forbidden', `only the owner of a public room can ${what}`);
    return null;
  }

  /**
   * A ban or an unban, told to the other connections (any node) of the one who made it, of the
   * room's owner and of every server admin (this node's list: nodes share the --admin flag), so
   * that their Banned lists follow (`removed` or `unbanned` without ref). Admins are named by the
   * config, in any case: their accounts' names are looked up (one with no account is skipped).
   * `also`: a user told the same (the one whose ban was lifted, an unban's).
   */
  async #tellModerators(
    conn: Connection,
    room: string,
    event: Extract<UserEvent, { op: 'moderated' }>,
    also?: string,
  ): Promise<void> {
    const info = await this.#backend.rooms.getRoom(room);
    const names = new Set([conn.user]);
    if (also !== undefined) names.add(also);
    if (info?.owner) names.add(info.owner);
    for (const admin of this.#admins) {
      const account = await this.#backend.accounts.getUser(admin);
      if (account) names.add(account.name);
    }
    for (const name of names) this.#local.tellUser(name, event);
  }

  /**
   * The owner lifts a ban: the user may join again. Idempotent, as unblock: `unbanned` also when
   * there was none (a name with an account). A ban that was lifted is told to the user too, on
   * every node (`unbanned` without ref, as the moderators' other tabs get it), so their page can
   * say they may join again; one that was not there is told to nobody but the moderators.
   */
  async unban(conn: Connection, room: string, name: string, ref: string | undefined): Promise<void> {
    const may = await this.#moderates(conn, room, ref, 'unban in it');
    if (!may) return;
    const target = await this.#backend.accounts.getUser(name);
    if (!target) return this.#fail(conn, ref, 'no_such_user', `there is no user ${name}`);
    // The owner is checked again with the unban: a room deleted and made again by someone else
    // since the look above is left as it is (it has bans of its own, none of this owner's: theirs
    // went with the deleted room, so the answer holds for it). An admin's, the kind.
    const lifted = await this.#backend.rooms.unban(room, target.name, conn.user, may.admin);
    reply(conn, ref, { v, type: 'unbanned', room, user: target.name });
    await this.#tellModerators(
      conn,
      room,
      { op: 'moderated', room, user: target.name, banned: false, from: conn.id },
      lifted ? target.name : undefined,
    );
  }

  /** The owner's list of bans, paged by name as `members` (membersPage a reply). */
  async bans(conn: Connection, room: string, after: string, ref: string | undefined): Promise<void> {
    if (!(await this.#moderates(conn, room, ref, 'list its bans'))) return;
    const size = this.#limits.membersPage;
    const names = await this.#backend.rooms.bans(room, after, size + 1);
    const message: ServerMessage = { v, type: 'bans', room, users: names.slice(0, size) };
    if (names.length > size) message.next = names[size - 1];
    reply(conn, ref, message);
  }

  async dm(conn: Connection, name: string, ref: string | undefined): Promise<void> {
    const rooms = this.#backend.rooms;
    const target = await this.#backend.accounts.getUser(name);
    if (!target) return this.#fail(conn, ref, 'no_such_user', `there is no user ${name}`);
    if (target.name === conn.user)
      return this.#fail(conn, ref, 'bad_message', 'a direct message needs another user');
    // Nothing of it is made for a user the other blocks (their writes in it are refused by the store).
    if (await rooms.blocks(target.name, conn.user))
      return this.#fail(conn, ref, 'not_accepted', notAccepted(target.name));
    const room = dmRoom(conn.user, target.name);
    await rooms.createRoom(
      { name: room, kind: 'dm', owner: null, createdAt: this.#clock.now() },
      { maxRooms: this.#limits.maxRooms, maxOwnedRooms: this.#limits.maxOwnedRooms },
    );
    // Against the cap on direct messages, never the one on rooms (a DM is opened by the other).
    const max = this.#limits.maxDmsPerUser;
    const mine = await rooms.join(conn.user, room, max);
    if (mine === 'too_many_rooms')
      return this.#fail(
        conn,
        ref,
        'too_many_rooms',
        `you can be in at most ${plural(max, 'direct message')}`,
      );
    if (mine === 'no_room') return this.#fail(conn, ref, 'no_such_room', `room ${room} does not exist`);
    // The other at their cap on DMs is not added: the DM opens for the asker alone, as one the other
    // closed (reopenDm adds them at a message once they have room; the messages wait for them).
    // How many DMs someone else is in is theirs: a refusal here told the asker.
    const theirs = await rooms.join(target.name, room, max);
    // A block answered between the check above and the joins would have put the blocker into a
    // conversation with the user they blocked: asked again once both joins are stored, and what
    // they added undone, as if the block had come first (one that comes after this look-up finds
    // the DM open, as any block of someone one already talks to).
    if (await rooms.blocks(target.name, conn.user)) {
      const now = this.#clock.now();
      if (theirs === 'joined') await rooms.leave(target.name, room, now);
      if (mine === 'joined') await rooms.leave(conn.user, room, now);
      return this.#fail(conn, ref, 'not_accepted', notAccepted(target.name));
    }
    const lastRead = mine === 'joined' ? await rooms.head(room) : await this.#lastRead(conn.user, room);
    await this.#enter(conn, room, { kind: 'dm', owner: null, lastRead }, ref);
    for (const [user, result] of [
      [conn.user, mine],
      [target.name, theirs],
    ] as const) {
      if (result !== 'joined') continue;
      this.#local.notice(room, { v, type: 'member', room, user, joined: true });
      this.#local.tellUser(user, { op: 'joined', room });
    }
  }

  /**
   * A message about to be stored in a direct message whose other user closed it: they are added
   * back first, their read marker at the room's head, so the message reaches them live and unread,
   * as a workspace chat reopens a closed conversation at a new message (it stayed closed, and
   * reopening it put the marker past the messages written meanwhile). At their cap on DMs they are
   * not, and the message is stored all the same (they find it when they open the conversation).
   */
  async reopenDm(room: string, sender: string): Promise<void> {
    const peer = await this.#backend.accounts.getUser(dmPeer(room, sender));
    if (!peer || peer.name.toLowerCase() === sender.toLowerCase()) return;
    // A peer who blocks the sender is never added back (the store refuses the message too).
    if (await this.#backend.rooms.blocks(peer.name, sender)) return;
    const result = await this.#backend.rooms.join(peer.name, room, this.#limits.maxDmsPerUser, 'dm');
    if (result !== 'joined') return;
    this.#local.notice(room, { v, type: 'member', room, user: peer.name, joined: true });
    this.#local.tellUser(peer.name, { op: 'joined', room });
  }

  async deleteRoom(conn: Connection, room: string, ref: string | undefined): Promise<void> {
    const rooms = this.#backend.rooms;
    const info = await rooms.getRoom(room);
    const visible =
      info !== null &&
      (info.kind === 'public' || info.owner === conn.user || (await rooms.isMember(conn.user, room)));
    if (!info || !visible) return this.#fail(conn, ref, 'no_such_room', `room ${room} does not exist`);
    if (room === DEFAULT_ROOM || info.owner !== conn.user)
      return this.#fail(conn, ref, 'forbidden', 'only the owner of a room can delete it');
    // Resolves once the room is gone for everyone, its files with it; what is left of it is cleared
    // after, by the store. Its pending invitations go with it, read in the same step as they are
    // dropped (one made up to the deletion is among them): their users are told after. The owner
    // is checked again with the deletion: null if the room was deleted meanwhile (by another tab:
    // its deletion sent the notices), or deleted and made again under the name by someone else,
    // which is left as it is and told nothing (the new room's pending invitations stand).
    const invitees = await this.#asking(conn, room, () => rooms.deleteRoomAndInvitations(room, conn.user));
    await this.#local.exit(conn, room);
    reply(conn, ref, { v, type: 'left', room, reason: 'deleted' });
    if (invitees === null) return;
    this.#local.tellRoomDeleted(room);
    for (const user of invitees) this.#local.tellUser(user, { op: 'uninvited', room });
  }

  /**
   * A membership change made elsewhere (another tab, an invitation, a removal, a deleted room). A
   * `left` for a room the user is in again by now (a room deleted and created again under its name
   * before the deletion's notice went out) is an older stay's: ignored.
   */
  async onUserEvent(
    conn: Connection,
    event: Exclude<UserEvent, { op: 'signed_out' | 'blocked' }>,
  ): Promise<void> {
    if (conn.closed || !conn.ready) return; // a hello still to come reads the memberships itself
    if (event.op === 'read') {
      // The tab that read has its reply; a connection not in the room has no badge for it.
      if (event.from === conn.id || !conn.rooms.has(event.room)) return;
      return reply(conn, undefined, { v, type: 'read', room: event.room, seq: event.seq });
    }
    if (event.op === 'invitation')
      return reply(conn, undefined, { v, type: 'invitation', ...event.invitation });
    if (event.op === 'uninvited') {
      if (event.from === conn.id) return;
      return reply(conn, undefined, { v, type: 'uninvited', room: event.room });
    }
    if (event.op === 'moderated') {
      if (event.from === conn.id) return; // it has the answer, with its ref
      const type = event.banned ? 'removed' : 'unbanned';
      return reply(conn, undefined, { v, type, room: event.room, user: event.user });
    }
    if (event.op === 'joined') {
      if (conn.rooms.has(event.room)) return; // the connection that asked is in already
      const m = (await this.#backend.rooms.memberships(conn.user)).find((x) => x.room === event.room);
      if (!m) return; // left again meanwhile
      await this.#enter(conn, event.room, m, undefined);
    } else {
      if (!conn.rooms.has(event.room)) return;
      // The store changed before this notice went out, and notices go by room name: a user in the
      // room now joined it since (again, or a room of that name created again after a deletion),
      // so the notice is about an earlier stay and leaves this one alone.
      if (await this.#backend.rooms.isMember(conn.user, event.room)) return;
      if (!(await this.#local.exit(conn, event.room))) return;
      const message = { v, type: 'left', room: event.room } as const;
      reply(conn, undefined, event.reason ? { ...message, reason: event.reason } : message);
    }
  }

  /**
   * The room's log says the user's stay ended (a removal, a leave in another tab) or the room was
   * deleted (ports.ts, CommittedEvents `changed`), and the channel is about to publish an event
   * written after that (LocalRooms marks the connection, RoomChannel.onEvent runs this first).
   * Synchronous up to the connection's leaving: it is out of the room's live stream before that
   * event, whenever the bus notice comes (the notice then finds it out already and does nothing; a
   * notice that came first took it out, and the mark went with it). Told as the bus would tell it
   * (a leave's `member` notice, then `left`), at once; during its hello, after the welcome (which
   * may list the room); not at all if it asked for the leave or deletion itself (its answer tells
   * it). Returns the rest, for the connection's queue: a user who is in the room again by now
   * (invited again, or a room of the name created again) enters it again, as after `joined`.
   */
  changedInLog(conn: Connection, room: string, change: LogChange): (() => Promise<void>) | null {
    const cr = conn.rooms.get(room);
    if (conn.closed || !cr) return null;
    const exited = this.#local.exit(conn, room);
    exited.catch(() => {}); // awaited by the task below, which reports it
    // Its own leave or deletion: the request's answer (with its ref) is the word it gets.
    if (cr.leaving) return () => exited.then(() => {});
    // As the bus would tell it: a leave's `member` notice (while still in the room), then `left`.
    const told: ServerMessage[] = [];
    if (change.op === 'left') told.push({ v, type: 'member', room, user: change.user, joined: false });
    const reason: 'deleted' | 'removed' | undefined = change.op === 'deleted' ? 'deleted' : change.reason;
    told.push(reason ? { v, type: 'left', room, reason } : { v, type: 'left', room });
    const ready = conn.ready;
    if (ready) for (const message of told) reply(conn, undefined, message);
    return async () => {
      if (!ready) for (const message of told) reply(conn, undefined, message);
      await exited;
      await this.onUserEvent(conn, { op: 'joined', room });
    };
  }

  /** Runs the connection's own leave or deletion of `room` with the room marked (ConnRoom.leaving). */
  async #asking<T>(conn: Connection, room: string, call: () => Promise<T>): Promise<T> {
    const cr = conn.rooms.get(room);
    if (cr) cr.leaving = true;
    try {
      return await call();
    } finally {
      if (cr) cr.leaving = false;
    }
  }

  /** After an outage: enter the rooms the user joined meanwhile, leave those they left. */
  async reconcile(conn: Connection): Promise<void> {
    if (conn.closed) return;
    const memberships = await this.#backend.rooms.memberships(conn.user);
    const now = new Set(memberships.map((m) => m.room));
    for (const room of [...conn.rooms.keys()])
      if (!now.has(room)) await this.onUserEvent(conn, { op: 'left', room });
    for (const m of memberships) {
      if (conn.closed) return;
      if (!conn.rooms.has(m.room)) await this.#enter(conn, m.room, m, undefined);
      // A `read` from another tab may have been lost with the rest: the marker as the store has it
      // (a client takes away what it counted up to there, and never counts a message at or before
      // it later; one it read further itself is not moved back).
      else if (m.lastRead > 0) reply(conn, undefined, { v, type: 'read', room: m.room, seq: m.lastRead });
    }
  }
}
