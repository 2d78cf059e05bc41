/**
 * Blocks on SQLite (ports.ts, RoomStore.block): the `blocks` table of schema 10, one row per
 * blocker and blocked user, keyed by both names in lower case (names are unique ignoring case), the
 * blocked user's name as created kept for the list.
 *
 * The checks the store makes with its writes (`refusesDm` in the append transaction, `blocks` in
 * the invitation's) are plain reads here, called inside those transactions: better-sqlite3 runs each
 * transaction to its end before another starts, so a block committed before a write is seen by it,
 * and one committed after it comes after it (nothing of the write is refused afterwards, nothing
 * stored after the block gets through).
 */
import type Database from 'better-sqlite3';
import { dmPeer } from '../../../shared/protocol.js';
import type { BlockResult } from '../../ports.js';

export class SqliteBlocks {
  readonly #stmt;
  readonly #block;

  constructor(db: Database.Database) {
    const s = {
      has: db.prepare('SELECT 1 FROM blocks WHERE user_key = ? AND blocked_key = ?'),
      count: db.prepare('SELECT COUNT(*) AS n FROM blocks WHERE user_key = ?'),
      add: db.prepare('INSERT INTO blocks (user_key, blocked_key, blocked) VALUES (?, ?, ?)'),
      remove: db.prepare('DELETE FROM blocks WHERE user_key = ? AND blocked_key = ?'),
      list: db.prepare('SELECT blocked FROM blocks WHERE user_key = ? ORDER BY blocked'),
      // The blocker's invitations made by the blocked user (by_user is an account's name): the
      // pending ones and the declined ones (to the owner still pending until they expire).
      dropInvitations: db.prepare(
        'DELETE FROM invitations WHERE user = ? COLLATE NOCASE AND by_user = ? COLLATE NOCASE RETURNING room, declined',
      ),
    };
    this.#stmt = s;
    this.#block = db.transaction((user: string, blocked: string, max: number): BlockResult => {
      const key = [user.toLowerCase(), blocked.toLowerCase()] as const;
      if (s.has.get(...key)) return { result: 'already', dropped: [] };
      if ((s.count.get(key[0]) as { n: number }).n >= max) return { result: 'full', dropped: [] };
      s.add.run(...key, blocked);
      const rows = s.dropInvitations.all(user, blocked) as { room: string; declined: number }[];
      // Answered: the pending ones (the blocker was told of a declined one at the decline).
      const pending = rows.filter((r) => !r.declined).map((r) => r.room);
      return { result: 'blocked', dropped: pending.sort() };
    }).immediate;
  }

  block(user: string, blocked: string, max: number): BlockResult {
    return this.#block(user, blocked, max);
  }

  unblock(user: string, blocked: string): boolean {
    return this.#stmt.remove.run(user.toLowerCase(), blocked.toLowerCase()).changes === 1;
  }

  list(user: string): string[] {
    const names = (this.#stmt.list.all(user.toLowerCase()) as { blocked: string }[]).map((r) => r.blocked);
    // Code unit order, as JavaScript sorts (the column's BINARY order is the same for these names).
    return names.sort();
  }

  /** Whether `user` blocks `other`. */
  blocks(user: string, other: string): boolean {
    return this.#stmt.has.get(user.toLowerCase(), other.toLowerCase()) !== undefined;
  }

  /** A write by `user` in `room` that a block refuses: a direct message whose other user blocks them. */
  refusesDm(room: string, user: string): boolean {
    return room.startsWith('dm:') && this.blocks(dmPeer(room, user), user);
  }
}
