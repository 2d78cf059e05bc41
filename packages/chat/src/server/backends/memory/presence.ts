/**
 * Presence in one process: room -> user -> that user's connection ids in the room. A user is
 * online in a room while at least one of their connections is in it.
 */
import type { Presence } from '../../ports.js';

export class MemoryPresence implements Presence {
  readonly #rooms = new Map<string, Map<string, Set<string>>>();

  async add(room: string, user: string, connId: string): Promise<boolean> {
    let users = this.#rooms.get(room);
    if (!users) {
      users = new Map();
      this.#rooms.set(room, users);
    }
    let conns = users.get(user);
    if (!conns) {
      conns = new Set();
      users.set(user, conns);
    }
    const first = conns.size === 0;
    conns.add(connId);
    return first;
  }

  async remove(room: string, user: string, connId: string): Promise<boolean> {
    const users = this.#rooms.get(room);
    const conns = users?.get(user);
    if (!users || !conns?.delete(connId)) return false;
    if (conns.size > 0) return false;
    users.delete(user);
    if (users.size === 0) this.#rooms.delete(room);
    return true;
  }

  async online(room: string): Promise<string[]> {
    return [...(this.#rooms.get(room)?.keys() ?? [])].sort();
  }
}
