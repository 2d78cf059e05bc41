/**
 * The notice bus on Redis pub/sub: one channel per topic (`<prefix>topic:room:<name>`,
 * `...topic:user:<name>`), SUBSCRIBEd only while this node has a listener for the topic, so a node
 * with no client in a room hears none of its notices. Pub/sub is at most once: a notice published
 * while Redis is unreachable is lost (presence is re-derived, see presence.ts; the hub reconciles
 * memberships when the service is back). ioredis resubscribes the channels itself after a reconnect.
 */
import type { Redis } from 'ioredis';
import type { NoticeBus } from '../../ports.js';
import type { RedisKeys } from './keys.js';

type Listener = (payload: string) => void;

export class RedisBus implements NoticeBus {
  readonly stats = { topicMessagesReceived: {} as Record<string, number>, publishFailures: 0 };
  readonly #cmd: Redis;
  readonly #sub: Redis;
  readonly #head: string;
  readonly #topics = new Map<string, Set<Listener>>();

  constructor(cmd: Redis, sub: Redis, keys: RedisKeys) {
    this.#cmd = cmd;
    this.#sub = sub;
    this.#head = `${keys.prefix}topic:`;
    sub.on('message', (channel: string, payload: string) => {
      if (!channel.startsWith(this.#head)) return;
      const topic = channel.slice(this.#head.length);
      const counts = this.stats.topicMessagesReceived;
      counts[topic] = (counts[topic] ?? 0) + 1;
      const set = this.#topics.get(topic);
      if (!set) return;
      for (const listener of [...set]) listener(payload);
    });
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
    this.#sub.unsubscribe(this.#head + topic).catch(() => {});
  }

  publish(topic: string, payload: string): void {
    this.#cmd.publish(this.#head + topic, payload).catch(() => {
      this.stats.publishFailures++;
    });
  }
}
