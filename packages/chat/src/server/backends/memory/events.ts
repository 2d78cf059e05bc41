/**
 * Committed events in one process: the store calls commit() inside appendEvent, right after its
 * transaction, so events reach the room's listener in commit order, which is seq order. open()
 * reads the head synchronously with registering the listener, so no event falls between them.
 */
import type { CommittedEvents, EventListener } from '../../ports.js';

export class MemoryCommittedEvents implements CommittedEvents {
  readonly #listeners = new Map<string, EventListener>();
  readonly #headOf: (room: string) => number;

  /** `headOf` must answer synchronously from the same store that calls commit(). */
  constructor(headOf: (room: string) => number) {
    this.#headOf = headOf;
  }

  async open(room: string, listener: EventListener): Promise<number> {
    this.#listeners.set(room, listener);
    return this.#headOf(room);
  }

  close(room: string): void {
    this.#listeners.delete(room);
  }

  /** Called by the store after an event committed. */
  commit(room: string, seq: number, payload: string): void {
    this.#listeners.get(room)?.(seq, payload);
  }

  /** Rooms open on this node (tests). */
  get rooms(): string[] {
    return [...this.#listeners.keys()].sort();
  }
}
