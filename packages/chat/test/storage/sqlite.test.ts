/** The ChatStore contract on SQLite: seq per room, dedup, edit/delete as events, paging, reopening. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/server/storage/sqlite.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'riptide-store-'));
  dirs.push(dir);
  return join(dir, 'nested', 'chat.db');
}

const msg = (room: string, user: string, clientId: string, text = clientId) =>
  ({ type: 'message', room, user, clientId, text, ts: 1000 }) as const;

describe('SqliteStore', () => {
  it('numbers events per room from 1 without gaps and dedups by (user, client id)', async () => {
    const store = new SqliteStore(tempPath());
    await store.createRoom('a', 'x', 0);
    await store.createRoom('b', 'x', 0);
    const r1 = await store.appendEvent(msg('a', 'ann', 'c1'));
    const r2 = await store.appendEvent(msg('b', 'ann', 'c2'));
    const r3 = await store.appendEvent(msg('a', 'ben', 'c1')); // same id, other user: a new message
    const dup = await store.appendEvent(msg('a', 'ann', 'c1', 'changed'));
    expect([r1, r2, r3].map((r) => r.ok && r.event.type === 'message' && r.event.message.seq)).toEqual([
      1, 1, 2,
    ]);
    expect(dup).toMatchObject({ ok: true, duplicate: true, event: { message: { seq: 1, text: 'c1' } } });
    expect(await store.head('a')).toBe(2);
    expect(await store.appendEvent(msg('nope', 'ann', 'c9'))).toEqual({ ok: false, reason: 'not_found' });
    await store.close();
  });

  it('records edits and deletes as events and applies them to the message', async () => {
    const store = new SqliteStore(tempPath());
    await store.createRoom('a', 'x', 0);
    await store.appendEvent(msg('a', 'ann', 'c1', 'one'));
    expect(
      await store.appendEvent({ type: 'edit', room: 'a', user: 'ben', target: 1, text: 'x', ts: 2 }),
    ).toEqual({
      ok: false,
      reason: 'forbidden',
    });
    await store.appendEvent({ type: 'edit', room: 'a', user: 'ann', target: 1, text: 'uno', ts: 2 });
    expect((await store.messagesBefore('a', 99, 10))[0]).toMatchObject({ text: 'uno', editedAt: 2 });
    await store.appendEvent({ type: 'delete', room: 'a', user: 'ann', target: 1, ts: 3 });
    expect(await store.appendEvent({ type: 'delete', room: 'a', user: 'ann', target: 1, ts: 4 })).toEqual({
      ok: false,
      reason: 'not_found',
    });
    expect((await store.eventsAfter('a', 0, 10)).map((e) => e.type)).toEqual([
      'message',
      'edited',
      'deleted',
    ]);
    expect((await store.messagesBefore('a', 99, 10))[0]).toMatchObject({ seq: 1, text: '', deleted: true });
    await store.close();
  });

  it('counts unread messages by others after the read marker and survives reopening', async () => {
    const path = tempPath();
    let store = new SqliteStore(path);
    await store.createRoom('a', 'x', 0);
    expect(await store.join('ann', 'a')).toBe(true);
    expect(await store.join('ann', 'a')).toBe(false);
    await store.appendEvent(msg('a', 'ben', 'b1'));
    await store.appendEvent(msg('a', 'ann', 'a1'));
    await store.appendEvent(msg('a', 'ben', 'b2'));
    expect(await store.unreadCount('a', 'ann', 0)).toBe(2);
    await store.markRead('ann', 'a', 2);
    await store.markRead('ann', 'a', 1); // never moves back
    await store.close();
    store = new SqliteStore(path);
    const [m] = await store.memberships('ann');
    expect(m).toEqual({ room: 'a', lastRead: 2 });
    expect(await store.unreadCount('a', 'ann', m.lastRead)).toBe(1);
    expect(await store.listRooms()).toEqual([{ name: 'a', members: 1 }]);
    await store.close();
  });

  it('expires sessions', async () => {
    const store = new SqliteStore(tempPath());
    await store.createSession({ token: 't1', user: 'ann', expiresAt: Date.now() + 60_000 });
    await store.createSession({ token: 't2', user: 'ann', expiresAt: Date.now() - 1 });
    expect(await store.getSession('t1')).toMatchObject({ user: 'ann' });
    expect(await store.getSession('t2')).toBeNull();
    await store.deleteSession('t1');
    expect(await store.getSession('t1')).toBeNull();
    await store.close();
  });
});
