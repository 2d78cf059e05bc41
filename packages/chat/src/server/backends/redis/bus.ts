/**
 * The notice bus on Redis pub/sub: one channel per topic (`<prefix>topic:room:<name>`,
 * `...topic:user:<name>`), SUBSCRIBEd only while this node has a listener for the topic, so a node
 * with no client in a room hears none of its notices. Pub/sub is at most once: a notice published
 * while Redis is unreachable, or while this node's subscriber connection is away, is lost (the hub
 * reconciles memberships when the service is back, and presence when the subscription is: see
 * onResubscribed). The bus resubscribes its channels itself after a reconnect (not ioredis: its own
 * SUBSCRIBE's promise has no handler, and a connection closed before the answer, as in a stop,
 * rejected it unhandled, which ends a Node process). A PUBLISH that
 * fails (this node's command connection is away) is handed to `onPublishFailed`: no other node
 * noticed anything, so the node that published is the one to tell it again (presence.ts, retell;
 * or `keep` here, and `publishKept` once Redis is back, for a notice that may be heard late, in
 * its order: those whose listeners check the store before acting on them).
 *
 *   sub: close ... reconnect ─ 'ready' ─ SUBSCRIBE every topic ─ PING ─ pong ─► onResubscribed
 *
 * The PING goes after the SUBSCRIBE on the same connection, which answers in order: once the pong
 * is in every topic is heard again, and whatever the listeners then read from the store is not
 * older than what the bus will bring next.
 */
import type { Redis } from 'ioredis';
import type { NoticeBus } from '../../ports.js';
import type { RedisKeys } from './keys.js';

type Listener = (payload: string) => void;

/** Most failed notices kept to publish again (`keep`); past it the oldest are dropped. */
const MAX_KEPT = 10_000;

export class RedisBus implements NoticeBus {
  /** Messages heard per topic this node listens to now (a topic left loses its count). */
  readonly stats = { topicMessagesReceived: {} as Record<string, number>, publishFailures: 0 };
  readonly #cmd: Redis;
  readonly #sub: Redis;
  readonly #head: string;
  readonly #topics = new Map<string, Set<Listener>>();
  readonly #resubscribed: (() => void)[] = [];
  readonly #publishFailed: (topic: string, payload: string) => void;
  #kept: [topic: string, payload: string][] = [];

  constructor(
    cmd: Redis,
    sub: Redis,
    keys: RedisKeys,
    onPublishFailed: (topic: string, payload: string) => void = () => {},
  ) {
    this.#cmd = cmd;
    this.#publishFailed = onPublishFailed;
    this.#sub = sub;
    this.#head = `${keys.prefix}topic:`;
    sub.on('message', (channel: string, payload: string) => {
      if (!channel.startsWith(this.#head)) return;
      const topic = channel.slice(this.#head.length);
      const set = this.#topics.get(topic);
      // Counted for the topics heard now only: a message still on its way after the UNSUBSCRIBE
      // would otherwise bring back the count of a topic left for good (one per room ever heard).
      if (!set) return;
      const counts = this.stats.topicMessagesReceived;
      counts[topic] = (counts[topic] ?? 0) + 1;
      for (const listener of [...set]) listener(payload);
    });
    // The connection was ready before this bus existed (connectRedis waits for it): each 'ready'
    // from now on follows a lost connection.
    // `sub` is made with autoResubscribe off (connection.ts).
    sub.on('ready', () => {
      const channels = [...this.#topics.keys()].map((topic) => this.#head + topic);
      if (channels.length > 0) sub.subscribe(...channels).catch(() => {}); // lost again: see below
      sub.ping().then(
        () => {
          for (const listener of this.#resubscribed) listener();
        },
        () => {}, // lost again: the next 'ready' tries again
      );
    });
  }

  onResubscribed(listener: () => void): void {
    this.#resubscribed.push(listener);
  }

  subscribe(topic: string, listener: Listener): void {
    let set = this.#topics.get(topic);
    if (!set) {
      set = new Set();
      this.#topics.set(topic, set);
      this.#sub.subscribe(this.#head + topic).catch(() => {});
    }
    set.add(listener);
  }

  unsubscribe(topic: string, listener: Listener): void {
    const set = this.#topics.get(topic);
    if (!set?.delete(listener) || set.size > 0) return;
    this.#topics.delete(topic);
    // Its count goes with it: kept, the counts of every room and user ever heard would pile up.
    delete this.stats.topicMessagesReceived[topic];
    this.#sub.unsubscribe(this.#head + topic).catch(() => {});
  }

  /** Publishes `payload` again, after the others kept, at the next publishKept (Redis is back). */
  keep(topic: string, payload: string): void {
    this.#kept.push([topic, payload]);
    if (this.#kept.length > MAX_KEPT) this.#kept.shift();
  }

  /** Notices kept to publish again (tests, /_stats). */
  get kept(): number {
    return this.#kept.length;
  }

  /** Publishes the kept notices, in order; one that fails again goes through onPublishFailed. */
  publishKept(): void {
    const kept = this.#kept;
    this.#kept = [];
    for (const [topic, payload] of kept) this.publish(topic, payload);
  }

  /** The Redis channel of a topic (a script that PUBLISHes itself: presence.ts, ANNOUNCE). */
  channel(topic: string): string {
    return this.#head + topic;
  }

  publish(topic: string, payload: string): void {
    this.#cmd.publish(this.channel(topic), payload).catch(() => {
      this.stats.publishFailures++;
      this.#publishFailed(topic, payload);
    });
  }
}
