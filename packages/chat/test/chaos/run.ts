/**
 * The chaos run: a seeded, randomized test of the chat's central promise, "reconnect without
 * losing or duplicating a message". Users with one or two tabs (tab.ts: the page's own state and
 * outbox) type into their rooms, reply (often to their own messages, which they may delete at
 * once), edit, delete and react; they leave rooms, join and re-join them (rooms they can enter;
 * now and then someone else's private room, refused), create rooms (public
 * `x…`, private `p…`), invite to their private rooms (the invitee accepts at a later step) and
 * remove others from them (a member, or
 * someone not in it: refused), and delete the rooms they own (created again
 * under the same name, sometimes at once while the owner's other tab is away), each change
 * answered (or its connection cut) before the next step; meanwhile their connections are cut at
 * random moments (right after a send, a hello, a history, a leave, a join, an invitation, a removal or a room
 * deletion is written, in the middle of a replay or a history, at any time) and servers restart (a `Cluster`: one SQLite
 * server, or nodes on one Redis). At quiescence (every tab reconnected, outboxes empty, heads
 * reached: request/reply barriers, no sleeps) the invariants are checked against the server's
 * state, read by each user (their rooms from a new welcome, each room's history page by page) and
 * by the observer account that created the first rooms:
 *
 *  - every message typed is stored exactly once, in its room, under its id, by its user, replying
 *    to the seq it was typed as a reply to; unless its room was left before it was sent (the page
 *    drops it), or it was refused because its room was left or deleted meanwhile, or (a reply)
 *    because the message it answers was deleted meanwhile, or its room was deleted after it was
 *    typed (then it is gone with it; a deletion whose answer was cut off may take effect any time
 *    before the next quiescence, however early it was asked);
 *  - nothing is stored that nobody typed; no send was refused for another reason;
 *  - every reply quotes an earlier message of its room as it is now: its user and current text,
 *    or `deleted` without text;
 *  - every ack of an id names the seq it is stored at, and at most one ack is not `duplicate`;
 *  - a tab's messages are stored in the order it typed them (the outbox is stop-and-wait);
 *  - each connection gets each event of its rooms once, in seq order, without a gap (after the
 *    seq its hello named, or the head its welcome, a `joined` or a reset gave), and no event of a
 *    room it is not in (never welcomed to, or after its `left`);
 *  - every tab shows exactly its user's rooms: none it left, none deleted, none missing;
 *  - every room a tab shows holds exactly the server's messages from its first one on (same seqs,
 *    ids, texts, edits, deletions, reactions, quotes), at least the server's latest page, no gap,
 *    no extra, and the tab's head of every room is the server's;
 *  - unread counts: after a read marker is moved, a welcome counts the messages of others after it
 *    that are not deleted.
 *
 * The random source is a seeded generator: a failure names the seed, and CHAOS_SEED=<n> replays it
 * (the network's timing still varies from run to run).
 */
import { WebSocket } from 'riptide';
import type { ChatMessage, Limits, ServerMessage } from '../../src/shared/protocol.js';
import { excerpt } from '../../src/web/room-state.js';
import { PATIENCE_MS, Tab } from './tab.js';

/** mulberry32: a small seeded generator, good enough to pick actions. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The limits of a chaos server: no rate limit in the way; small pages and replays (resets happen). */
export const CHAOS_LIMITS: Partial<Limits> = {
  historyPage: 20,
  replayLimit: 15,
  messageRate: { burst: 1_000_000, perSecond: 1_000_000 },
  roomRate: { burst: 1_000_000, perSecond: 1_000_000 },
  requestRate: { burst: 1_000_000, perSecond: 1_000_000 },
};

/** The share of steps that change memberships: random numbers in [from, to) pick them. */
const MEMBERSHIP_STEPS = [0.83, 0.925] as const;

/** The share of join steps aimed at a private room the user is not in (refused: `room_exists`). */
const REFUSED_JOINS = 0.25;

/** The servers a run talks to. */
export interface Cluster {
  /** The origin of node `i` (modulo the nodes up). */
  origin(i: number): string;
  /** Restarts a server or stops a node: its clients lose their connections. */
  disrupt(random: () => number): Promise<string>;
}

export const PASSWORD = 'correct horse';

async function signUp(origin: string, name: string): Promise<string> {
  const res = await fetch(`${origin}/api/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin },
    body: JSON.stringify({ name, password: PASSWORD }),
  });
  if (res.status !== 201) throw new Error(`register ${name}: ${res.status} ${await res.text()}`);
  return (res.headers.get('set-cookie') ?? '').split(';')[0];
}

/** A plain protocol client for setup and for reading the server's state: requests by ref. */
class Probe {
  welcome: Extract<ServerMessage, { type: 'welcome' }> | null = null;
  #refs = 0;
  #replies = new Map<string, (m: ServerMessage) => void>();
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as ServerMessage;
      const ref = (m as { ref?: string }).ref;
      if (ref === undefined) return;
      const resolve = this.#replies.get(ref);
      this.#replies.delete(ref);
      resolve?.(m);
    });
  }

  /** Connects and says hello; a node still without its storage (503, 1013) is asked again. */
  static async open(origin: string, cookie: string): Promise<Probe> {
    const deadline = Date.now() + PATIENCE_MS;
    for (;;) {
      try {
        return await Probe.#open(origin, cookie);
      } catch (err) {
        if (Date.now() > deadline) throw err;
        // A pace between attempts while the node recovers, not a barrier.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  static async #open(origin: string, cookie: string): Promise<Probe> {
    const ws = new WebSocket(`${origin.replace('http', 'ws')}/ws`, { headers: { cookie, origin } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const probe = new Probe(ws);
    ws.once('close', () => {
      for (const resolve of probe.#replies.values())
        resolve({ v: 2, type: 'error', code: 'unavailable', message: 'closed' } as ServerMessage);
    });
    const welcome = await probe.request({ type: 'hello' });
    if (welcome.type !== 'welcome') {
      probe.close();
      throw new Error(`hello: ${JSON.stringify(welcome)}`);
    }
    probe.welcome = welcome;
    return probe;
  }

  request(message: Record<string, unknown>): Promise<ServerMessage> {
    const ref = `p${++this.#refs}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no reply to ${JSON.stringify(message)}`)),
        PATIENCE_MS,
      );
      this.#replies.set(ref, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      this.ws.send(JSON.stringify({ v: 2, ...message, ref }));
    });
  }

  /** The room's head and every message in it, oldest first (history page after page). */
  async history(room: string): Promise<{ head: number; messages: ChatMessage[] }> {
    let head = -1;
    const pages: ChatMessage[][] = [];
    let before: number | undefined;
    for (;;) {
      const reply = await this.request({
        type: 'history',
        room,
        ...(before === undefined ? {} : { before }),
      });
      if (reply.type !== 'history') throw new Error(`history ${room}: ${JSON.stringify(reply)}`);
      if (head < 0) head = reply.head;
      pages.unshift(reply.messages);
      if (!reply.hasMore || reply.messages.length === 0) break;
      before = reply.messages[0].seq;
    }
    return { head, messages: pages.flat() };
  }

  close(): void {
    this.ws.terminate();
  }
}

const EMOJI = ['👍', '🎉', '😂'];

export interface RunOptions {
  seed: number;
  steps: number;
  /** Users (one tab each, some two). */
  users?: number;
  /** Rooms besides general. */
  rooms?: readonly string[];
  /** Chance per step of restarting a server / stopping a node. */
  disruptRate?: number;
  /**
   * Chance per step of a membership change besides the share every run has (MEMBERSHIP_STEPS,
   * 9.5%). 0 by default: the run then draws the same numbers as without it.
   */
  extraMembership?: number;
  log?: (line: string) => void;
}

/** Runs one seed against `cluster`; throws (with the seed) when an invariant breaks. */
export interface RunStats {
  typed: number;
  disruptions: number;
  kills: number;
  resets: number;
  synced: number;
  duplicateAcks: number;
  histories: number;
  /** `sync`s the page sent (it saw a gap, or a history older than events it had). */
  syncs: number;
  /**
   * Rooms entered and left by tabs (a `joined`, a `left`), and left because they were deleted or
   * the user was removed from them.
   */
  joined: number;
  left: number;
  deleted: number;
  removed: number;
  /** Members removed from private rooms (`removed` answers; their tabs may have been away). */
  removals: number;
  /** Rooms created by tabs, and of those, created again under a name deleted before. */
  created: number;
  recreated: number;
  /** Join steps (join or create), and joins and creations refused as `room_exists`. */
  joins: number;
  refused: number;
  /** Replies typed; at the end, replies stored and those whose message is deleted. */
  replies: number;
  storedReplies: number;
  repliesToDeleted: number;
}

export async function runChaos(cluster: Cluster, options: RunOptions): Promise<RunStats> {
  const { seed, steps } = options;
  const random = seeded(seed);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)];
  const rooms = ['general', ...(options.rooms ?? ['r1', 'r2'])];
  const users = Array.from({ length: options.users ?? 4 }, (_, i) => `u${i}`);
  const origin0 = cluster.origin(0);
  /** Rooms the users create, delete and create again (`p…` private, the others public). */
  const own = ['x1', 'x2', 'p1', 'p2'];
  const history: History = { typedAt: new Map(), deletions: new Map() };

  // Accounts, rooms and memberships, through plain requests.
  const observerCookie = await signUp(origin0, 'observer');
  const observer = await Probe.open(origin0, observerCookie);
  for (const room of rooms.slice(1)) {
    const created = await observer.request({ type: 'create', room });
    if (created.type !== 'joined') throw new Error(`create ${room}: ${JSON.stringify(created)}`);
  }
  const tabs: Tab[] = [];
  for (const [i, user] of users.entries()) {
    const cookie = await signUp(origin0, user);
    const setup = await Probe.open(origin0, cookie);
    for (const room of rooms.slice(1)) {
      const joined = await setup.request({ type: 'join', room });
      if (joined.type !== 'joined') throw new Error(`join ${room}: ${JSON.stringify(joined)}`);
    }
    setup.close();
    const count = i === 0 || random() < 0.4 ? 2 : 1;
    for (let t = 0; t < count; t++) {
      let node = int(8);
      const tab = new Tab(`${user}t${t}`, user, cookie, { origin: () => cluster.origin(node) });
      // A reconnecting tab may land on another node.
      const connect = tab.connect.bind(tab);
      tab.connect = () => {
        node = int(8);
        connect();
      };
      tab.state.active = pick(rooms);
      tab.log = options.log;
      tabs.push(tab);
    }
  }
  observer.close();
  for (const tab of tabs) tab.connect();
  for (const tab of tabs) await tab.until('the first welcome', () => tab.welcomed);

  let disruptions = 0;
  let joins = 0;
  const ticks = async (n: number) => {
    for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  let last: ServerView | undefined;
  const checkpoint = async (label: string, step: number) => {
    // At quiescence every deletion asked has been done or refused: one whose answer was cut off
    // took effect by now at the latest.
    for (const list of history.deletions.values())
      for (const deletion of list) deletion.settled = Math.min(deletion.settled, step);
    try {
      last = await quiesceAndCheck(cluster, tabs, history, observerCookie, options.log);
    } catch (err) {
      throw new Error(
        `chaos seed ${seed} (CHAOS_SEED=${seed} replays it), ${label}: ${(err as Error).message}`,
      );
    }
  };

  for (let step = 0; step < steps; step++) {
    let tab = pick(tabs);
    let r = random();
    const [from, to] = MEMBERSHIP_STEPS;
    const extra = options.extraMembership ?? 0;
    if (extra > 0 && random() < extra) r = from + random() * (to - from);
    // Membership changes are asked by a connected tab (one offline would lose the request).
    const online = tabs.filter((t) => t.welcomed);
    const membership = r >= from && r < to;
    if (membership && online.length > 0) tab = pick(online);
    options.log?.(`step ${step}: ${tab.name}, r ${r.toFixed(3)}`);
    // The page types only into the rooms it shows.
    const mine = [...tab.state.rooms.keys()].sort();
    const room = mine.length > 0 ? pick(mine) : 'general';
    const shown = tab.state.rooms.get(tab.state.active);
    const type = (where: string, replyTo?: number) => history.typedAt.set(tab.type(where, replyTo).id, step);
    if (r < 0.3) type(room);
    else if (r < 0.36) {
      // Cut right after the send (or, if one is in flight, the next send or resend) is written.
      tab.killOnWrite('send');
      type(room);
    } else if (r < 0.41) {
      tab.kill('at a random moment');
    } else if (r < 0.46) tab.killAfterMessages(1 + int(8));
    else if (r < 0.58) {
      if (!tab.ws && random() < 0.3) tab.killOnWrite('hello');
      tab.connect();
    } else if (r < 0.66) {
      // The user opens a room (a history request if it is not loaded), sometimes cut right after.
      if (random() < 0.3) tab.killOnWrite('history');
      tab.state.open(room);
    } else if (r < 0.7) {
      const mine = [...(shown?.messages.values() ?? [])].filter((m) => m.user === tab.user && !m.deleted);
      if (shown && mine.length > 0)
        tab.state.edit(shown.name, pick(mine).seq, `edited by ${tab.name} at ${step}`);
    } else if (r < 0.72) {
      const mine = [...(shown?.messages.values() ?? [])].filter((m) => m.user === tab.user && !m.deleted);
      // Often one that has replies (their quotes then say "deleted").
      const quoted = new Set([...(shown?.messages.values() ?? [])].map((m) => m.reply?.seq));
      const answered = mine.filter((m) => quoted.has(m.seq));
      if (shown && mine.length > 0)
        tab.state.remove(shown.name, pick(answered.length > 0 && random() < 0.7 ? answered : mine).seq);
    } else if (r < 0.77) {
      const live = [...(shown?.messages.values() ?? [])].filter((m) => !m.deleted);
      if (shown && live.length > 0) tab.state.react(shown.name, pick(live).seq, pick(EMOJI), random() < 0.7);
    } else if (r < 0.79) tab.state.markRead();
    else if (r < 0.79 + (options.disruptRate ?? 0.005)) {
      disruptions++;
      options.log?.(`seed ${seed} step ${step}: ${await cluster.disrupt(random)}`);
    } else if (r < 0.83) {
      // A reply to a message of the open room (deleted meanwhile, sometimes: then it is refused).
      // Often to one's own (which the user may delete while the reply is on its way, or after).
      const live = [...(shown?.messages.values() ?? [])].filter((m) => !m.deleted);
      const own = live.filter((m) => m.user === tab.user);
      if (shown && live.length > 0) {
        const target = pick(own.length > 0 && random() < 0.5 ? own : live);
        type(shown.name, target.seq);
        // The user deletes the message answered at once: before or after the reply is stored
        // (the outbox may hold earlier messages), so the reply is refused or quotes "deleted".
        if (target.user === tab.user && random() < 0.5) tab.state.remove(shown.name, target.seq);
      }
    } else if (membership) {
      // Nobody is connected (reconnecting, a node or Redis down): this tab comes back first (or
      // fails to: its socket closes).
      if (!tab.welcomed) {
        tab.connect();
        await tab.until('a welcome or a close', () => tab.welcomed || tab.ws === null);
      }
      /** A room deletion's: notes that its answer came on the connection that asked it. */
      let answeredDeletion: (() => void) | undefined;
      // Membership: leave, delete an owned room, invite to or remove from an owned private room, or join
      // (re-join, or create: the page's "join or create"); sometimes cut right after the request.
      const m = random();
      const now = [...tab.state.rooms.keys()].sort(); // (the welcome may have changed them)
      const owned = now.filter((name) => tab.state.rooms.get(name)?.owner === tab.user);
      const ownedPrivate = owned.filter((name) => tab.state.rooms.get(name)?.kind === 'private');
      const leavable = now.filter((name) => name !== 'general');
      const cut = random() < 0.3;
      if (!tab.welcomed) tab.note('no membership change: offline');
      else if (m < 0.3 && leavable.length > 0) {
        if (cut) tab.killOnWrite('leave');
        tab.state.leave(pick(leavable));
      } else if (m < 0.5 && owned.length > 0) {
        // The owner deletes a room, for everyone in it.
        const name = pick(owned);
        // Done when its answer comes, at this step; if its connection is cut first (`cut`, or any
        // other cut meanwhile), it takes effect some time before the next checkpoint (settled then).
        const deletion = { asked: step, settled: Number.POSITIVE_INFINITY };
        history.deletions.set(name, [...(history.deletions.get(name) ?? []), deletion]);
        const asking = tab.ws;
        answeredDeletion = () => {
          if (tab.ws === asking) deletion.settled = step;
        };
        // Sometimes the user's other tab, showing the room, is away meanwhile, and the owner
        // creates the room again at once: that tab comes back holding the deleted room's messages.
        const away = tabs.find((t) => t.user === tab.user && t !== tab && t.state.rooms.get(name)?.loaded);
        if (away?.welcomed && random() < 0.5) {
          away.kill(`away while ${name} is deleted and created again`);
          tab.state.deleteRoom(name);
          await tab.until(`${name} deleted`, () => !tab.state.rooms.has(name) || !tab.welcomed);
          if (tab.welcomed) tab.state.joinOrCreate(name, name.startsWith('p'));
        } else {
          if (cut) tab.killOnWrite('delete_room');
          tab.state.deleteRoom(name);
        }
      } else if (m < 0.56 && tab.state.invitations.size > 0) {
        // An invitation is pending until accepted: the invitee accepts one (joins the room).
        if (cut) tab.killOnWrite('accept');
        tab.state.accept(pick([...tab.state.invitations.keys()].sort()));
      } else if (m < 0.6 && ownedPrivate.length > 0) {
        if (cut) tab.killOnWrite('invite');
        tab.state.invite(pick(ownedPrivate), pick(users));
      } else if (m < 0.7 && ownedPrivate.length > 0) {
        // A member (one whose tab shows the room), or else someone invited just before (their tabs
        // still entering the room), or now and then anyone (refused `not_member` if not in it):
        // their tabs, on any node, drop the room and its unsent messages, as after a leave; a
        // send of theirs already on its way is refused `not_member` (or stored, if it got there
        // first).
        const name = pick(ownedPrivate);
        const members = tabs.filter((t) => t.user !== tab.user && t.state.rooms.has(name)).map((t) => t.user);
        const others = users.filter((u) => u !== tab.user);
        const anyone = random() < 0.2;
        const target = members.length > 0 && !anyone ? pick(members) : pick(others);
        if (members.length === 0 && !anyone) {
          tab.state.invite(name, target);
          await tab.answered();
        }
        if (cut) tab.killOnWrite('remove');
        tab.state.removeMember(name, target);
      } else {
        // Join or create a room the user can enter: a public room they are not in (created if
        // nobody has it), or a private name nobody holds (created); now and then (REFUSED_JOINS)
        // a private room of others instead, refused as `room_exists` (one the user owns and left
        // is refused too: only members enter a private room). Who holds a private room is read
        // from the tabs (a room everyone left, or a deletion not seen yet, may still surprise).
        joins++;
        const others = [...rooms, ...own].filter((name) => !tab.state.rooms.has(name));
        // A private room one of the user's other tabs shows: they were invited (or created it)
        // and this tab has not heard yet; the page joins it (a `create` would be refused).
        const member = new Set(
          tabs.filter((t) => t.user === tab.user).flatMap((t) => [...t.state.rooms.keys()]),
        );
        const theirs = new Set(
          tabs.flatMap((t) =>
            [...t.state.rooms.values()]
              .filter((r) => r.kind === 'private' && !member.has(r.name))
              .map((r) => r.name),
          ),
        );
        const open = others.filter((name) => !theirs.has(name));
        const closed = others.filter((name) => theirs.has(name));
        const refuse = closed.length > 0 && (open.length === 0 || random() < REFUSED_JOINS);
        const name = refuse ? pick(closed) : open.length > 0 ? pick(open) : pick(own);
        const create = name.startsWith('p') && !member.has(name);
        if (cut) tab.killOnWrite(tab.state.rooms.has(name) ? 'history' : create ? 'create' : 'join');
        tab.state.joinOrCreate(name, create);
      }
      // The change completes (or the connection is cut) before the next step: otherwise, where
      // a reply takes a few ms (nodes on Redis), the next steps' cuts end most changes unanswered
      // and rooms are hardly ever left, joined, deleted or created again. Other tabs' traffic
      // (outboxes, replays) goes on meanwhile.
      await tab.answered();
      answeredDeletion?.();
    } else if (r < 0.95) await ticks(int(30));
    else await pick(tabs).roundTrip();
    await ticks(int(4));
    if (step === Math.floor(steps / 2)) await checkpoint(`half way (step ${step})`, step);
  }
  await checkpoint('at the end', steps);
  for (const tab of tabs) tab.close();
  const sum = (f: (t: Tab) => number) => tabs.reduce((n, t) => n + f(t), 0);
  const stored = [...(last?.rooms.values() ?? [])].flatMap((r) => r.messages);
  const created = tabs.flatMap((t) => t.created);
  const stats: RunStats = {
    typed: sum((t) => t.typed.length),
    disruptions,
    kills: sum((t) => t.seen.kills),
    resets: sum((t) => t.seen.resets),
    synced: sum((t) => t.seen.synced),
    duplicateAcks: sum((t) => t.seen.duplicateAcks),
    histories: sum((t) => t.seen.histories),
    syncs: sum((t) => t.seen.syncs),
    joined: sum((t) => t.seen.joined),
    left: sum((t) => t.seen.left),
    deleted: sum((t) => t.seen.deleted),
    removed: sum((t) => t.seen.removed),
    removals: sum((t) => t.seen.removals),
    created: created.length,
    // A name is created again only after it was deleted: every creation of it after the first.
    recreated: created.length - new Set(created).size,
    joins,
    refused: sum((t) => t.errors.filter((e) => e.code === 'room_exists').length),
    replies: sum((t) => t.typed.filter((p) => p.replyTo !== undefined).length),
    storedReplies: stored.filter((m) => m.reply).length,
    repliesToDeleted: stored.filter((m) => m.reply?.deleted).length,
  };
  options.log?.(`seed ${seed}: ${JSON.stringify(stats)}`);
  return stats;
}

/** What the driver did that the checks must know: when each message was typed, rooms deleted. */
export interface History {
  /** Message id -> the step it was typed at. */
  typedAt: Map<string, number>;
  /**
   * Room -> its deletions: the step each was asked at, and the step by which it had surely taken
   * effect (a message typed before then may be gone with it). That is the same step when its answer
   * came (the step waits for it); a deletion whose connection was cut before its answer is still
   * done by the server, at a moment nobody sees (under load, long after: other tabs meanwhile
   * type into the room, and get their messages acknowledged), so it is settled only at the next
   * checkpoint's quiescence.
   */
  deletions: Map<string, Deletion[]>;
}

/** A room deletion the run asked for (History.deletions). */
export interface Deletion {
  asked: number;
  settled: number;
}

/** The server's side at quiescence: each user's rooms, and each of those rooms' history. */
export interface ServerView {
  rooms: Map<string, { head: number; messages: ChatMessage[] }>;
  memberships: Map<string, string[]>;
}

/** Reconnects every tab, waits until nothing is in flight, then checks the invariants. */
async function quiesceAndCheck(
  cluster: Cluster,
  tabs: Tab[],
  history: History,
  observerCookie: string,
  log?: (line: string) => void,
): Promise<ServerView> {
  for (const tab of tabs) {
    tab.disarm();
    tab.autoReconnect = true;
    tab.connect();
  }
  for (const tab of tabs) await tab.until('quiescence (outbox empty, rooms in sync)', () => tab.settled);
  // Membership requests still in flight are answered before a round trip's pong.
  for (const tab of tabs) await tab.roundTrip();
  for (const tab of tabs) await tab.until('quiescence (outbox empty, rooms in sync)', () => tab.settled);
  const server: ServerView = { rooms: new Map(), memberships: new Map() };
  // The observer created the first rooms and stays in them: it reads them even when no user is in.
  const cookies = new Map([
    ...tabs.map((t): [string, string] => [t.user, t.cookie]),
    ['observer', observerCookie],
  ]);
  for (const [user, cookie] of cookies) {
    // Each user reads their own rooms (private ones included), from the welcome of a new connection.
    const probe = await Probe.open(cluster.origin(0), cookie);
    const mine = (probe.welcome?.rooms ?? []).map((r) => r.room).sort();
    server.memberships.set(user, mine);
    for (const room of mine) if (!server.rooms.has(room)) server.rooms.set(room, await probe.history(room));
    probe.close();
  }
  for (const tab of tabs) {
    const mine = server.memberships.get(tab.user) ?? [];
    // Membership changes reach the user's other connections as notices (on several nodes through
    // pub/sub): wait for them, and for every room to reach the server's head.
    // (If they never come, check() below says which rooms differ.)
    await tab
      .until(`the rooms ${mine}`, () => [...tab.state.rooms.keys()].sort().join() === mine.join())
      .catch(() => {});
    for (const room of mine) {
      if (!tab.state.rooms.has(room)) continue;
      const head = server.rooms.get(room)?.head ?? 0;
      await tab.until(`${room} at head ${head}`, () => tab.state.rooms.get(room)?.head === head);
    }
  }
  for (const tab of tabs) await tab.roundTrip();
  const problems = check(tabs, server, history, log);
  problems.push(...(await checkUnread(cluster, tabs, server)));
  for (const tab of tabs) tab.autoReconnect = false;
  if (problems.length > 0) throw new Error(`\n${problems.slice(0, 20).join('\n')}`);
  return server;
}

/** The invariants (see the top of the file); returns what is wrong. */
export function check(
  tabs: Tab[],
  view: ServerView,
  history: History,
  log?: (line: string) => void,
): string[] {
  const problems: string[] = [];
  const server = view.rooms;
  const stored = new Map<string, ChatMessage[]>(); // room user id -> messages
  for (const [room, { messages }] of server) {
    let last = 0;
    const bySeq = new Map(messages.map((m) => [m.seq, m]));
    for (const m of messages) {
      if (m.seq <= last) problems.push(`${room}: history out of order at seq ${m.seq}`);
      last = m.seq;
      const key = `${room} ${m.user} ${m.id}`;
      stored.set(key, [...(stored.get(key) ?? []), m]);
      // A reply quotes an earlier message of its room as it is now: deleted, or its current text.
      if (!m.reply) continue;
      const target = bySeq.get(m.reply.seq);
      const quote = JSON.stringify(m.reply);
      if (m.reply.seq >= m.seq || !target)
        problems.push(`${room} ${m.seq}: replies to ${m.reply.seq}, which the room does not hold before it`);
      else if (target.deleted) {
        if (!m.reply.deleted || m.reply.text !== '')
          problems.push(`${room} ${m.seq}: quotes deleted message ${target.seq} as ${quote}`);
      } else if (m.reply.deleted || m.reply.user !== target.user || m.reply.text !== excerpt(target.text))
        problems.push(
          `${room} ${m.seq}: quotes ${quote}, message ${target.seq} is ${JSON.stringify(target)}`,
        );
    }
  }
  for (const [key, list] of stored)
    if (list.length !== 1)
      problems.push(`${key} stored ${list.length} times: seqs ${list.map((m) => m.seq)}`);
  const typedKeys = new Set<string>();
  for (const tab of tabs) {
    problems.push(...tab.violations);
    const typed = new Map(tab.typed.map((item) => [item.id, item]));
    // A send may be refused only because its room was left or deleted meanwhile, or (a reply)
    // because the message it answers was deleted meanwhile.
    const refused = new Map<string, string>();
    for (const r of tab.rejected) {
      const item = typed.get(r.id);
      const target =
        item?.replyTo === undefined
          ? undefined
          : server.get(item.room)?.messages.find((m) => m.seq === item.replyTo);
      const fine =
        r.code === 'not_member' ||
        r.code === 'no_such_room' ||
        (r.code === 'not_found' && item?.replyTo !== undefined && !(target && !target.deleted));
      if (fine) refused.set(r.id, r.code);
      else problems.push(`${tab.name}: send ${r.id} refused: ${r.code} ${r.message}`);
    }
    const lastSeq = new Map<string, number>();
    for (const item of tab.typed) {
      const key = `${item.room} ${tab.user} ${item.id}`;
      typedKeys.add(key);
      const found = stored.get(key);
      if (!found) {
        const at = history.typedAt.get(item.id) ?? 0;
        const deletions = history.deletions.get(item.room) ?? [];
        const excused =
          tab.dropped.has(item.id) || // its room was left before it was sent
          refused.has(item.id) ||
          deletions.some((d) => d.settled >= at) || // gone with its room
          !server.has(item.room); // nobody is in its room now: nobody can read it
        if (!excused) problems.push(`${tab.name}: ${item.id} typed in ${item.room}, never stored (lost)`);
        else if (
          !tab.dropped.has(item.id) &&
          !refused.has(item.id) &&
          server.has(item.room) &&
          deletions.every((d) => d.asked < at)
        )
          // Excused only because a deletion asked before it was typed was cut off (Deletion).
          log?.(
            `${tab.name}: ${item.id} typed at step ${at} in ${item.room}, acked ${JSON.stringify(tab.acks.get(item.id) ?? [])}, gone with a deletion asked at step ${deletions.map((d) => `${d.asked} (settled by ${d.settled})`)}`,
          );
        continue;
      }
      const m = found[0];
      if (!m.deleted && m.reply?.seq !== item.replyTo)
        problems.push(
          `${tab.name}: ${item.id} replies to ${item.replyTo}, stored replying to ${m.reply?.seq}`,
        );
      if (m.editedAt === undefined && !m.deleted && m.text !== item.text)
        problems.push(`${tab.name}: ${item.id} stored with text ${JSON.stringify(m.text)}`);
      if (m.seq <= (lastSeq.get(item.room) ?? 0))
        problems.push(`${tab.name}: ${item.id} stored at ${m.seq}, before a message typed earlier`);
      lastSeq.set(item.room, m.seq);
      const acks = tab.acks.get(item.id) ?? [];
      if (acks.some((a) => a.seq !== m.seq))
        problems.push(
          `${tab.name}: ${item.id} acked with seqs ${acks.map((a) => a.seq)}, stored at ${m.seq}`,
        );
      if (acks.filter((a) => !a.duplicate).length > 1)
        problems.push(`${tab.name}: ${item.id} acked as new ${acks.length} times`);
    }
    if (tab.outbox.items.length > 0)
      problems.push(`${tab.name}: outbox still holds ${tab.outbox.items.map((p) => p.id)}`);
  }
  for (const key of stored.keys()) if (!typedKeys.has(key)) problems.push(`${key} stored, never typed`);

  for (const tab of tabs) {
    // The tab shows exactly the user's rooms: none left, none deleted, none missing.
    const shows = [...tab.state.rooms.keys()].sort().join();
    const member = (view.memberships.get(tab.user) ?? []).join();
    if (shows !== member) problems.push(`${tab.name}: shows the rooms ${shows}; ${tab.user} is in ${member}`);
    for (const [name, room] of tab.state.rooms) {
      const read = server.get(name);
      if (!read) continue;
      const { head, messages } = read;
      if (room.head !== head)
        problems.push(`${tab.name}: ${name} at head ${room.head}, the server's is ${head}`);
      if (room.waiting.size > 0 || room.syncing)
        problems.push(`${tab.name}: ${name} still waits for ${[...room.waiting.keys()]}`);
      if (!room.loaded) continue;
      const shown = [...room.messages.values()].sort((a, b) => a.seq - b.seq);
      const from = shown[0]?.seq ?? Number.POSITIVE_INFINITY;
      const expected = messages.filter((m) => m.seq >= from);
      const latestPage = messages.slice(-(CHAOS_LIMITS.historyPage ?? 50));
      if (latestPage.length > 0 && from > latestPage[0].seq)
        problems.push(
          `${tab.name}: ${name} shows from seq ${from}, less than the latest page (from ${latestPage[0].seq})`,
        );
      const a = JSON.stringify(shown.map(normal));
      const b = JSON.stringify(expected.map(normal));
      if (a !== b) problems.push(`${tab.name}: ${name} shows\n  ${a}\nthe server has\n  ${b}`);
    }
  }
  return problems;
}

/**
 * Unread counts: each user moves their read marker in every room to half way (the reply says where
 * it is now: never back), then a new connection's welcome must count, per room, the messages of
 * others after the marker that are not deleted.
 */
async function checkUnread(cluster: Cluster, tabs: Tab[], view: ServerView): Promise<string[]> {
  const problems: string[] = [];
  const cookies = new Map(tabs.map((t) => [t.user, t.cookie]));
  for (const [i, [user, cookie]] of [...cookies].entries()) {
    const marking = await Probe.open(cluster.origin(i), cookie);
    const markers = new Map<string, number>();
    const server = view.rooms;
    for (const room of view.memberships.get(user) ?? []) {
      const head = server.get(room)?.head ?? 0;
      const reply = await marking.request({ type: 'read', room, seq: Math.floor(head / 2) });
      if (reply.type !== 'read') problems.push(`${user}: read ${room}: ${JSON.stringify(reply)}`);
      else markers.set(room, reply.seq);
    }
    marking.close();
    const fresh = await Probe.open(cluster.origin(i + 1), cookie);
    fresh.close();
    for (const state of fresh.welcome?.rooms ?? []) {
      const room = server.get(state.room);
      const marker = markers.get(state.room);
      if (!room || marker === undefined) continue;
      const expected = room.messages.filter((m) => m.user !== user && !m.deleted && m.seq > marker).length;
      if (state.unread !== expected || state.head !== room.head)
        problems.push(
          `${user}: ${state.room} welcome says unread ${state.unread} head ${state.head}; after marker ${marker} the history has ${expected} unread, head ${room.head}`,
        );
    }
  }
  return problems;
}

/**
 * A message as a comparable value: keys in one order, the quote's too (one built by the Redis
 * append script has its own). Reactions keep theirs: their order is the protocol's.
 */
function normal(m: ChatMessage): unknown {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(m).sort()) out[key] = (m as unknown as Record<string, unknown>)[key];
  if (m.reply) out.reply = Object.fromEntries(Object.entries(m.reply).sort(([a], [b]) => (a < b ? -1 : 1)));
  return out;
}
