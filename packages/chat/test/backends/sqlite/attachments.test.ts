/** The attachment contract on SQLite, and the message's files kept and freed with the message. */
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteAttachments } from '../../../src/server/backends/sqlite/attachments.js';
import { attachmentsContract } from '../attachments-contract.js';
import { asMembers } from '../members.js';
import { closeSqliteStores, openSqliteStore, tempDatabasePath } from './helpers.js';

afterEach(closeSqliteStores);

function open(maxTotal?: number) {
  const store = asMembers(openSqliteStore());
  return { store, attachments: new SqliteAttachments(store.database, maxTotal) };
}

attachmentsContract('SQLite', async (maxTotal) => {
  const { store, attachments } = open(maxTotal);
  return { attachments, rooms: store };
});

describe('SQLite attachments with messages', () => {
  const file = { id: 'f1', name: 'a.png', type: 'image/png', size: 3, width: 1, height: 1 };

  /** Room 'a' with message 1 (of `text`) carrying `file`, uploaded first and then bound to it. */
  async function messageWithFile(text: string) {
    const { store, attachments } = open();
    await store.createRoom(
      { name: 'a', kind: 'public', owner: null, createdAt: 0 },
      { maxRooms: 9, maxOwnedRooms: 9 },
    );
    await attachments.put(
      { ...file, room: 'a', user: 'ann', createdAt: 1, clientId: null, seq: null },
      Buffer.from('abc'),
      5,
    );
    await store.appendEvent({
      type: 'message',
      room: 'a',
      user: 'ann',
      clientId: 'm1',
      text,
      ts: 2,
      attachments: [file],
    });
    await attachments.bind('a', ['f1'], 1);
    return { store, attachments };
  }

  it('a message carries its files in history and replay; deleting it drops them and its files', async () => {
    const { store, attachments } = await messageWithFile('');
    expect((await store.messagesBefore('a', 9, 1))[0].attachments).toEqual([file]);
    expect(await store.eventsAfter('a', 0, 1)).toMatchObject([{ message: { attachments: [file] } }]);
    await store.appendEvent({ type: 'delete', room: 'a', user: 'ann', target: 1, ts: 3 });
    expect((await store.messagesBefore('a', 9, 1))[0]).not.toHaveProperty('attachments');
    expect(await attachments.get('f1')).toBeNull(); // freed by the trigger, in the same transaction
  });

  it("binds a message's files in its own commit: no bind after it (failed, or killed before it) leaves them to expire", async () => {
    // Regression: the files were bound by the hub's bind() after the commit, in a transaction of
    // its own. When that failed (SQLITE_FULL, SQLITE_BUSY) or the process died between the two, the
    // stored message kept naming files that the sweep of unused uploads then deleted.
    const { store, attachments } = open();
    await store.createRoom(
      { name: 'a', kind: 'public', owner: null, createdAt: 0 },
      { maxRooms: 9, maxOwnedRooms: 9 },
    );
    await attachments.put(
      { ...file, room: 'a', user: 'ann', createdAt: 1, clientId: null, seq: null },
      Buffer.from('abc'),
      5,
    );
    expect(await attachments.claim(['f1'], 'ann', 'a', 'm1')).toEqual([file]);
    await store.appendEvent({
      type: 'message',
      room: 'a',
      user: 'ann',
      clientId: 'm1',
      text: '',
      ts: 2,
      attachments: [file],
    });
    // No bind: the sweep of unused uploads, long after, must leave the message's file.
    expect(await attachments.expireUnused(Number.MAX_SAFE_INTEGER)).toBe(0);
    expect((await attachments.get('f1'))?.record.seq).toBe(1);
    expect((await attachments.get('f1'))?.data).toEqual(Buffer.from('abc'));
  });

  it("a deleted room's files go with it", async () => {
    const { store, attachments } = await messageWithFile('x');
    await store.deleteRoom('a');
    expect(await attachments.get('f1')).toBeNull();
  });

  it("a file written before the rooms' trigger existed gets it: a deleted room's unsent uploads go with it", async () => {
    const path = tempDatabasePath();
    const before = openSqliteStore(path);
    await before.createRoom(
      { name: 'a', kind: 'public', owner: null, createdAt: 0 },
      { maxRooms: 9, maxOwnedRooms: 9 },
    );
    await new SqliteAttachments(before.database).put(
      { ...file, room: 'a', user: 'ann', createdAt: 1, clientId: null, seq: null },
      Buffer.from('abc'),
      5,
    );
    before.database.exec('DROP TRIGGER attachments_room_removed'); // as an earlier version left it
    await before.close();
    const store = openSqliteStore(path);
    const attachments = new SqliteAttachments(store.database);
    await store.deleteRoom('a');
    expect(await attachments.get('f1')).toBeNull(); // with the room, before any dropRoom
  });
});
