/**
 * Bans from public rooms on SQLite (ports.ts, RoomStore.ban): the `bans` table of schema 12, one
 * row per room and banned user (the account's name, as the memberships hold it), keyed by both.
 *
 * The store's join transaction reads `isBanned` with its add (store.ts, joinRoom): better-sqlite3
 * runs each transaction to its end before another starts, so a ban committed before a join refuses
 * it, and a join committed before the ban is undone by the removal that follows the ban (hub,
 * membership.ts). deleteRoom and the expiry of an empty room drop a room's rows (`dropRoom`).
 *
 * The room's owner is never banned from it (ban answers 'owner'). A row banning the owner, as a
 * version before that check could store (an admin's ban), binds nothing: joinRoom lets the owner
 * in, the list leaves it out, and the room's next ban drops it (so it takes no place under the cap).
 */
import type Database from 'better-sqlite3';
import type { BanResult } from '../../ports.js';

export class SqliteBans {
  readonly #stmt;
  readonly #ban;
  readonly #unban;

  constructor(db: Database.Database) {
    const s = {
      // The room is public and `by`'s, or (admin = 1: a server admin, the hub's word) any public room.
      moderated: db.prepare(
        "SELECT owner FROM rooms WHERE name = ? AND kind = 'public' AND (owner = ? OR ? = 1)",
      ),
      has: db.prepare('SELECT 1 FROM bans WHERE room = ? AND user = ?'),
      count: db.prepare('SELECT COUNT(*) AS n FROM bans WHERE room = ?'),
      add: db.prepare('INSERT INTO bans (room, user) VALUES (?, ?)'),
      remove: db.prepare('DELETE FROM bans WHERE room = ? AND user = ?'),
      // Read in order from the primary key: O(log n + page). Not the room's owner's: a ban of
      // them stored by a version before the ban step refused it binds nobody (joinRoom lets them in).
      page: db.prepare(
        `SELECT user FROM bans WHERE room = ? AND user > ?
           AND user IS NOT (SELECT owner FROM rooms WHERE name = bans.room)
         ORDER BY user LIMIT ?`,
      ),
      dropRoom: db.prepare('DELETE FROM bans WHERE room = ?'),
    };
    this.#stmt = s;
    this.#ban = db.transaction(
      (room: string, user: string, by: string, max: number, admin: boolean): BanResult => {
        const found = s.moderated.get(room, by, admin ? 1 : 0) as { owner: string | null } | undefined;
        if (!found) return 'no_room';
        // Its owner could lift their own ban (an admin's): never banned from their room.
        if (found.owner === user) return 'owner';
        // An older version's ban of the owner (see above) goes, so that the cap counts true bans.
        if (found.owner !== null) s.remove.run(room, found.owner);
        if (s.has.get(room, user)) return 'already';
        if ((s.count.get(room) as { n: number }).n >= max) return 'full';
        s.add.run(room, user);
        return 'banned';
      },
    ).immediate;
    this.#unban = db.transaction((room: string, user: string, by: string, admin: boolean): boolean => {
      if (!s.moderated.get(room, by, admin ? 1 : 0)) return false;
      return s.remove.run(room, user).changes === 1;
    }).immediate;
  }

  ban(room: string, user: string, by: string, max: number, admin = false): BanResult {
    return this.#ban(room, user, by, max, admin);
  }

  unban(room: string, user: string, by: string, admin = false): boolean {
    return this.#unban(room, user, by, admin);
  }

  /** Code unit order: the column's BINARY order is JavaScript's for these names. */
  list(room: string, after: string, limit: number): string[] {
    return (this.#stmt.page.all(room, after, limit) as { user: string }[]).map((r) => r.user);
  }

  /** Inside the join transaction (store.ts, joinRoom). */
  isBanned(room: string, user: string): boolean {
    return this.#stmt.has.get(room, user) !== undefined;
  }

  /** Inside deleteRoom's and the expiry's transactions: the room's bans go with it. */
  dropRoom(room: string): void {
    this.#stmt.dropRoom.run(room);
  }
}
