/**
 * Redis key names of the chat (shared by the store, the event reader, presence and the throttle),
 * and the mapping of Redis failures to UnavailableError.
 *
 *   user:<name lower>            JSON UserRecord           session:<token>     JSON, expiring
 *   skeleton:<skeleton>          the name (lower case) of the account whose name has this skeleton
 *                                (name-skeleton.ts): a sign-up of a look-alike name is refused;
 *                                written with user:<name> by one script (store.ts, SIGN_UP)
 *   sessions:<user>              zset token -> expiry (ms) of the user's sessions, changed with
 *                                session:<token> by one script (store.ts, CREATE_SESSION, which
 *                                prunes the expired and trims it to MAX_SESSIONS_PER_USER, and
 *                                DELETE_SESSION); expiring with the latest of them
 *   rooms                        hash name -> JSON info    public              zset of public names
 *                                (kind, owner, createdAt, and topic while the room has one:
 *                                rewritten by store.ts TOPIC with the event that logs it)
 *   roomcount                    public+private rooms      owned:<user>        rooms the user owns
 *   empty                        zset name -> empty since  member:<user>       hash room -> read marker
 *   (an entry of member:<user> is a membership only while the user is in room:{r}:members: the
 *   entries of a deleted room are removed in steps after it, store.ts DELETE_ROOM)
 *   room:{r}:seq                 the room's counter (kept after deletion: seqs never go back)
 *   room:{r}:tip                 the nonce of the room's last stream entry (kept with seq; see
 *                                log-regression.ts)
 *   room:{r}:base                the counter when the room was created (the head of the deleted
 *                                room it continues the numbering of; 0 for none)
 *   room:{r}:gen                 how many times a room of the name was created (kept after deletion,
 *                                absent for a room created before it existed: 0): the incarnation
 *                                an upload is stamped with (attachments.ts)
 *   room:{r}:log                 stream, ids <seq>-0,      room:{r}:msgs       hash seq -> message JSON
 *                                fields e (event), n, p
 *                                (a message keeps replyTo, mentions and rx: emoji -> users)
 *                                and <seq>-<k> (k >= 1): a leave, removal or deletion (store.ts,
 *                                LOG_CHANGE), fields c, u, r, e '{}'; kept after a deletion with
 *                                that one entry
 *   room:{r}:idx / :live         zsets of message seqs (all / not deleted)
 *   room:{r}:topics              zset seq -> a `topic` event's JSON (store.ts TOPIC): history's
 *                                topic lines, kept as long as the room (the stream is trimmed);
 *                                unlinked by DELETE_ROOM, and by CREATE_ROOM for what an older
 *                                node's deletion left
 *   room:{r}:by:<user>           zset of the user's live message seqs (unread counts)
 *   room:{r}:mention:<user>      zset of live message seqs mentioning the user, by others
 *   room:{r}:mention:<user>:<author>  the same, by that author alone (a count leaves out the
 *                                authors the user blocks: store.ts, COUNT_AFTER)
 *   room:{r}:mentioned           set of what follows `mention:` in those zsets' names, <user> and
 *                                <user>:<author> (deleted with the room)
 *   room:{r}:authors / :members  sets                      room:{r}:dedup:<user>:<id>  -> seq
 *   room:{r}:roster              zset of the members' names, all scores 0 (listMembers pages it
 *                                BYLEX); changed with :members by the same scripts
 *   room:{r}:rosterscan          the SSCAN cursor of a roster build in progress (store.ts,
 *                                LIST_MEMBERS): while it exists the roster is incomplete
 *   graves                       zset `<id>:<room>` -> the room's counter when deleted: deletions
 *                                whose grave (members, unread entries, files) is still being
 *                                cleared (store.ts, DELETE_ROOM)
 *   room:{r}:grave:<id>:members  the member set of a deleted room (renamed by DELETE_ROOM), and
 *     / :authors / :mentioned    its authors and mentioned; emptied in steps (GRAVE_STEP)
 *   room:{r}:grave:<id>:lease    expiring: the deleting node is still clearing the grave (a sweep
 *                                leaves it alone meanwhile)
 *   room:{r}:digest:<user>:<id>  the send's digest (send-digest.ts), beside its dedup key
 *   invites:<user>               hash room -> JSON {by, at}: the user's pending invitations, changed
 *                                with room:{r}:invited by the same scripts (store.ts, INVITE,
 *                                ACCEPT, DROP_INVITATION, DELETE_ROOM); <user> here, in declined:,
 *                                in room:{r}:invited and in invites-due is the name as the account
 *                                spells it, whatever case the caller gave (store.ts, #invitee)
 *   room:{r}:invited             hash user -> at: who has a pending invitation to the room, or a
 *                                declined one until it expires or the invitee blocks the owner
 *                                (its invites:<user> side is gone: declined:<user> holds it)
 *   declined:<user>              hash room -> JSON {by, at}: the user's declined invitations whose
 *                                room side stays (DROP_INVITATION moves the entry here from
 *                                invites:<user>), so that BLOCK finds and drops the room side of
 *                                those by the user blocked; dropped with that side (INVITE,
 *                                EXPIRE_INVITATIONS, DELETE_ROOM, the owner's taking back), kept to
 *                                the per-user cap by INVITE (store.ts); a decline from before it
 *                                gets its entry at a node's start (INDEX_DECLINED)
 *   room:{r}:bans                zset of the names banned from the public room by its owner, all
 *                                scores 0 (bans.ts; read by JOIN in store.ts with its add; unlinked
 *                                by DELETE_ROOM, and by CREATE_ROOM for what an older node left)
 *   blocks:<user lower>          hash blocked user's name lower -> as created: whom the user blocks
 *                                (blocks.ts; read by APPEND and INVITE in store.ts with their writes)
 *   invites-due                  zset `<room>\n<user>` -> at: every pending invitation by age, kept
 *                                with the two hashes; the sweep drops the expired (EXPIRE_INVITATIONS)
 *   room:{r}:presence[:<user>]   presence zsets            throttle:...        buckets and gates
 *   presence-rooms               zset room -> the latest expiry written to its presence set
 *                                (presence.ts, ORPHANS)
 *   room:{r}:presence-swept      hash user -> when a sweep took them out of the room set: cleared
 *                                once they are announced online again (presence.ts, MARK)
 *   wake:<reader id>             stream, one entry: wakes an event reader (events.ts); expires
 *   index:<pass>:v<n>            the time (ms) the start's pass over older layouts was done with no
 *                                node of an older version connected: `skeletons:v1`,
 *                                `invitations:v1`, `mentions:v1`; a start that finds it skips the
 *                                pass (done-markers.ts)
 * Keys of one room share the hash tag `{room}`; memberships span slots, so Redis Cluster is not
 * supported (one primary).
 */
import { UnavailableError } from '../../ports.js';

export class RedisKeys {
  constructor(readonly prefix: string) {}
  user(name: string): string {
    return `${this.prefix}user:${name.toLowerCase()}`;
  }
  /**
   * Whose the skeleton (backends/name-skeleton.ts) of a user name is: the name in lower case.
   * Written with the account (store.ts, SIGN_UP), and at start for accounts from before until the
   * pass's done-marker is written (indexSkeletons).
   */
  skeleton(skeleton: string): string {
    return `${this.prefix}skeleton:${skeleton}`;
  }
  session(token: string): string {
    return `${this.prefix}session:${token}`;
  }
  /** The user's sessions: a zset of tokens scored by expiry (store.ts, CREATE_SESSION). */
  sessions(user: string): string {
    return `${this.prefix}sessions:${user}`;
  }
  rooms(): string {
    return `${this.prefix}rooms`;
  }
  publicRooms(): string {
    return `${this.prefix}public`;
  }
  roomCount(): string {
    return `${this.prefix}roomcount`;
  }
  owned(user: string): string {
    return `${this.prefix}owned:${user}`;
  }
  /** Deleted rooms whose graves are still being cleared (store.ts, DELETE_ROOM). */
  graves(): string {
    return `${this.prefix}graves`;
  }
  emptyRooms(): string {
    return `${this.prefix}empty`;
  }
  member(user: string): string {
    return `${this.prefix}member:${user}`;
  }
  /** The user's pending invitations: hash room -> JSON {by, at} (store.ts, INVITE). */
  invitations(user: string): string {
    return `${this.prefix}invites:${user}`;
  }
  /**
   * The user's declined invitations whose room side stays until it expires: hash room -> JSON
   * {by, at} (store.ts, DROP_INVITATION; blocks.ts, BLOCK).
   */
  declined(user: string): string {
    return `${this.prefix}declined:${user}`;
  }
  /** Whom the user blocks: hash name in lower case -> the name as created (blocks.ts). */
  blocks(user: string): string {
    return `${this.prefix}blocks:${user.toLowerCase()}`;
  }
  /** The done-marker of a start's pass over older layouts, e.g. `mentions:v1` (done-markers.ts). */
  indexDone(pass: string): string {
    return `${this.prefix}index:${pass}`;
  }
  /** Every pending invitation, `<room>\n<user>` by its time (store.ts, EXPIRE_INVITATIONS). */
  invitationsDue(): string {
    return `${this.prefix}invites-due`;
  }
  room(room: string, part: string): string {
    return `${this.prefix}room:{${room}}:${part}`;
  }
  /** Who the owner banned from the public room: a zset of names, scores 0 (bans.ts). */
  bans(room: string): string {
    return this.room(room, 'bans');
  }
  seq(room: string): string {
    return this.room(room, 'seq');
  }
  tip(room: string): string {
    return this.room(room, 'tip');
  }
  base(room: string): string {
    return this.room(room, 'base');
  }
  /** The room's incarnation: counts the creations of the name (kept after deletion, like seq). */
  generation(room: string): string {
    return this.room(room, 'gen');
  }
  log(room: string): string {
    return this.room(room, 'log');
  }
  /** Rooms with a presence set, scored by the latest expiry written to it (presence.ts). */
  presenceRooms(): string {
    return `${this.prefix}presence-rooms`;
  }
  /** An event reader's private wake stream (events.ts). */
  wake(reader: string): string {
    return `${this.prefix}wake:${reader}`;
  }
  throttle(part: string): string {
    return `${this.prefix}throttle:${part}`;
  }
  /** The room a stream key belongs to (inverse of log()). */
  roomOfLog(key: string): string | null {
    const head = `${this.prefix}room:{`;
    if (!key.startsWith(head) || !key.endsWith('}:log')) return null;
    return key.slice(head.length, -'}:log'.length);
  }
}

/** A key's characters that SCAN's MATCH would take for a pattern, escaped (store.ts, presence.ts). */
export const globEscape = (text: string) => text.replace(/[*?[\]\\]/g, '\\$&');

/** Redis replies that mean "not now" rather than "this request is wrong". */
const UNAVAILABLE_REPLY = /^(LOADING|MISCONF|READONLY|BUSY|MASTERDOWN|NOREPLICAS|OOM|CLUSTERDOWN|TRYAGAIN)\b/;

/**
 * What a failed Redis call says in a log line or an error. ioredis fails each command in flight on
 * a connection that closes with "Reached the max retries per request limit (which is 0). Refer to
 * "maxRetriesPerRequest" option for details." (connection.ts sets 0 so that none is sent twice),
 * which reads like a setting to change: this says what happened instead.
 */
export function redisFailure(err: unknown): string {
  const e = err as { name?: string; message?: string } | null | undefined;
  if (e?.name === 'MaxRetriesPerRequestError') return 'the connection to Redis closed before it answered';
  return e?.message ?? String(err);
}

/**
 * The reply by which a reachable Redis refused a command for now (UNAVAILABLE_REPLY), or null. A
 * MULTI one of whose commands was refused fails as a whole with EXECABORT: ioredis gives the
 * refusals as its previousErrors.
 */
export function refusalOf(err: unknown): string | null {
  const e = err as { name?: string; message?: string; previousErrors?: unknown[] } | null | undefined;
  if (e?.name !== 'ReplyError' || typeof e.message !== 'string') return null;
  if (UNAVAILABLE_REPLY.test(e.message)) return e.message;
  if (e.message.startsWith('EXECABORT'))
    for (const previous of e.previousErrors ?? []) {
      const refusal = refusalOf(previous);
      if (refusal !== null) return refusal;
    }
  return null;
}

/** Maps a failed Redis call to UnavailableError unless it is a genuine error reply (a bug). */
export function toStoreError(err: unknown): Error {
  if (err instanceof UnavailableError) return err;
  const e = err as Error & { name?: string };
  if (e?.name === 'ReplyError' && refusalOf(err) === null) return e;
  return new UnavailableError(`chat storage (Redis) is unavailable: ${redisFailure(err)}`, { cause: err });
}

/**
 * Whether Redis is known to be reachable; `refused`, where the node has it (index.ts), is told of
 * a reply by which a reachable Redis refused a command for now (OOM, MISCONF, READONLY...: see
 * connection.ts, `refused`).
 */
export type Availability = (() => boolean) & { refused?: (reason: string) => void };

/**
 * One call to Redis on behalf of a store: refused at once with UnavailableError while Redis is known
 * to be down or hung (`isAvailable()` false) rather than left to wait for the command timeout, and a
 * failure mapped by toStoreError.
 */
export async function callRedis<T>(isAvailable: Availability | undefined, fn: () => Promise<T>): Promise<T> {
  if (isAvailable && !isAvailable()) throw new UnavailableError('chat storage (Redis) is unavailable');
  try {
    return await fn();
  } catch (err) {
    const refusal = refusalOf(err);
    if (refusal !== null) isAvailable?.refused?.(refusal);
    throw toStoreError(err);
  }
}
