/**
 * The notice bus of one process: publish() calls the topic's listeners at once, in subscription
 * order. (With one node there is nobody else to tell.)
 */
import type { NoticeBus } from '../../ports.js';

type Listener = (payload: string) => void;

export class MemoryBus implements NoticeBus {
  readonly #topics = new Map<string, Set<Listener>>();

  subscribe(topic: string, listener: Listener): void {
    let set = this.#topics.get(topic);
    if (!set) {
      set = new Set();
      this.#topics.set(topic, set);
    }
    set.add(listener);
  }

  unsubscribe(topic: string, listener: Listener): void {
    const set = this.#topics.get(topic);
    if (set?.delete(listener) && set.size === 0) this.#topics.delete(topic);
  }

  publish(topic: string, payload: string): void {
    const set = this.#topics.get(topic);
    if (!set) return;
    // Copy: a listener may unsubscribe (a connection leaving the room it hears about).
    for (const listener of [...set]) listener(payload);
  }

  /** In one process nothing is ever lost: never called. */
  onResubscribed(_listener: () => void): void {}

  /** Topics with listeners (tests). */
  get topics(): string[] {
    return [...this.#topics.keys()].sort();
  }
}
