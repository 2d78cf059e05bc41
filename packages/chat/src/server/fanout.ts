/**
 * Fan-out: deliver one serialized server message to every connection subscribed to a topic.
 * Topics are `room:<name>` (room events, presence, typing) and `user:<name>` (membership changes
 * that every tab of that user must apply).
 *
 * The hub publishes each event exactly once, after storage has committed it. On one node the
 * memory implementation below is enough; with several nodes a Redis implementation PUBLISHes to a
 * channel per topic and each node delivers to its own local subscribers, so publish() must also
 * reach subscribers on the publishing node. Delivery order per topic must be publish order.
 */
export type Deliver = (payload: string) => void;

export interface FanOut {
  subscribe(topic: string, deliver: Deliver): void;
  unsubscribe(topic: string, deliver: Deliver): void;
  publish(topic: string, payload: string): void;
  /**
   * A room log event (message, edited, deleted) that the store has committed with its seq, for
   * the `room:<name>` topic. A fan-out fed by the store itself (fanout-redis.ts reads each room's
   * Redis stream, which the store's append wrote) ignores this; the memory one publishes it.
   */
  publishEvent(room: string, seq: number, payload: string): void;
}

export class MemoryFanOut implements FanOut {
  readonly #topics = new Map<string, Set<Deliver>>();

  subscribe(topic: string, deliver: Deliver): void {
    let subs = this.#topics.get(topic);
    if (!subs) {
      subs = new Set();
      this.#topics.set(topic, subs);
    }
    subs.add(deliver);
  }

  unsubscribe(topic: string, deliver: Deliver): void {
    const subs = this.#topics.get(topic);
    if (subs?.delete(deliver) && subs.size === 0) this.#topics.delete(topic);
  }

  publish(topic: string, payload: string): void {
    const subs = this.#topics.get(topic);
    if (!subs) return;
    // Copy: a delivery may unsubscribe (a socket closing on a failed send).
    for (const deliver of [...subs]) deliver(payload);
  }

  publishEvent(room: string, _seq: number, payload: string): void {
    this.publish(`room:${room}`, payload);
  }
}
