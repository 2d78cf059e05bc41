/**
 * Who is online in each room, counted per connection so that several tabs or devices of one user
 * come and go without flicker: a user is online in a room while at least one of their connections
 * is in it. add() says whether this was the user's first connection there, remove() whether it was
 * the last; the hub announces presence only on those transitions.
 *
 * On Redis (several nodes) the same contract holds with one set per room and user of connection ids
 * (SADD/SREM, SCARD for first/last), each id also a key with a TTL that the owning node refreshes, so
 * a crashed node's connections expire instead of keeping users online forever.
 */
export interface Presence {
  /** Records the connection; true if the user was not online in the room before. */
  add(room: string, user: string, connId: string): Promise<boolean>;
  /** Forgets the connection; true if it was the user's last one in the room. */
  remove(room: string, user: string, connId: string): Promise<boolean>;
  /** Users online in the room, sorted. */
  online(room: string): Promise<string[]>;
}

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
