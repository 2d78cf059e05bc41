/**
 * The attachment contract on Redis (a byte count under a cap), a message's files kept in history,
 * and files and rooms written by an earlier version (no incarnation).
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { DROP_ROOM_STEP } from '../../src/server/backends/redis/attachments.js';
import type { RedisStore } from '../../src/server/backends/redis/store.js';
import type { Backend, RoomStore } from '../../src/server/ports.js';
import { attachmentsContract } from '../backends/attachments-contract.js';
import { openRedisBackend } from './backend.js';
import { redisServerForThisFile } from './helpers.js';

const server = redisServerForThisFile();
const opened: Backend[] = [];
afterEach(async () => {
  for (const b of opened.splice(0)) await b.close();
});

async function backend(maxAttachmentBytes?: number, prefix?: string): Promise<Backend> {
  const b = await openRedisBackend(server().url, {
    ...(maxAttachmentBytes ? { maxAttachmentBytes } : {}),
    ...(prefix ? { prefix } : {}),
  });
  opened.push(b);
  return b;
}

/** The deleting store's background cleanup of its deleted rooms (store.ts) has ended. */
const settled = (rooms: RoomStore) => (rooms as RedisStore).settled();

attachmentsContract('Redis', async (maxTotal) => backend(maxTotal));

describe('Redis attachments with messages', () => {
  it('a message carries its files in history, replay and its edit; deleting it drops them', async () => {
    const { rooms } = await backend();
    const file = { id: 'f1', name: 'a.png', type: 'image/png', size: 3, width: 1, height: 1 };
    await rooms.createRoom(
      { name: 'a', kind: 'public', owner: null, createdAt: 0 },
      { maxRooms: 9, maxOwnedRooms: 9 },
    );
    await rooms.join('ann', 'a', 9); // the store refuses the writes of non-members
    const sent = await rooms.appendEvent({
      type: 'message',
      room: 'a',
      user: 'ann',
      clientId: 'm1',
      text: '',
      ts: 2,
      attachments: [file],
    });
    expect(sent).toMatchObject({ ok: true, event: { message: { attachments: [file] } } });
    await rooms.appendEvent({ type: 'edit', room: 'a', user: 'ann', target: 1, text: 'caption', ts: 3 });
    expect((await rooms.messagesBefore('a', 9, 1))[0]).toMatchObject({
      text: 'caption',
      attachments: [file],
    });
    expect(await rooms.eventsAfter('a', 0, 1)).toMatchObject([{ message: { attachments: [file] } }]);
    await rooms.appendEvent({ type: 'delete', room: 'a', user: 'ann', target: 1, ts: 4 });
    expect((await rooms.messagesBefore('a', 9, 1))[0]).not.toHaveProperty('attachments');
  });
});

describe('Redis attachments written by an earlier version', () => {
  it('a file and a room without an incarnation still match; a room created again drops the old files', async () => {
    const { rooms, attachments } = await backend(undefined, 'legacy:');
    const raw = new Redis(server().url);
    const quotas = { maxRooms: 9, maxOwnedRooms: 9 };
    const info = { name: 'a', kind: 'public' as const, owner: null, createdAt: 0 };
    const upload = (id: string) =>
      attachments.put(
        {
          id,
          name: 'x.txt',
          type: 'text/plain',
          size: 1,
          room: 'a',
          user: 'ann',
          createdAt: 1,
          clientId: null,
          seq: null,
        },
        Buffer.from('x'),
        9,
      );
    try {
      await rooms.createRoom(info, quotas);
      await upload('old1');
      await upload('old2');
      // As an earlier version left them: no `gen` for the room, no `g` on its files.
      expect(await raw.del('legacy:room:{a}:gen')).toBe(1);
      expect(await raw.hdel('legacy:att:old1', 'g')).toBe(1);
      expect(await raw.hdel('legacy:att:old2', 'g')).toBe(1);
      expect(await attachments.claim(['old1'], 'ann', 'a', 'm1')).toHaveLength(1);
      expect(await attachments.dropRoom('a')).toBe(0); // the room exists: its files stay
      await rooms.deleteRoom('a');
      expect(await rooms.createRoom(info, quotas)).toBe('created');
      expect(await raw.get('legacy:room:{a}:gen')).toBe('1');
      await upload('new');
      expect(await attachments.claim(['old2'], 'ann', 'a', 'm2')).toBeNull();
      // The deletion's cleanup, after its answer, drops the old files (the new one stays).
      await settled(rooms);
      expect(await attachments.dropRoom('a')).toBe(0);
      expect(await attachments.get('old1')).toBeNull();
      expect(await attachments.get('old2')).toBeNull();
      expect(await attachments.get('new')).not.toBeNull();
      expect(await raw.smembers('legacy:att:room:{a}')).toEqual(['new']);
    } finally {
      await raw.quit();
    }
  });
});

describe('Redis attachments of a deleted room with many files', () => {
  it('are dropped in bounded steps (several scripts, not one), all of them, and a room created again keeps its own', async () => {
    const { rooms, attachments } = await backend(undefined, 'many:');
    const raw = new Redis(server().url);
    const quotas = { maxRooms: 9, maxOwnedRooms: 9 };
    const info = { name: 'a', kind: 'public' as const, owner: null, createdAt: 0 };
    const files = 3 * DROP_ROOM_STEP;
    const upload = (id: string) =>
      attachments.put(
        {
          id,
          name: 'x.txt',
          type: 'text/plain',
          size: 2,
          room: 'a',
          user: 'ann',
          createdAt: 1,
          clientId: null,
          seq: null,
        },
        Buffer.from('xy'),
        files + 1,
      );
    // Scripts run by anyone, from Redis's own count (this file's server runs one test at a time).
    const scripts = async (): Promise<number> => {
      const stats = await raw.info('commandstats');
      let calls = 0;
      for (const m of stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(m[1]);
      return calls;
    };
    try {
      await rooms.createRoom(info, quotas);
      for (let i = 0; i < files; i++) expect(await upload(`old${i}`)).toBe('stored');
      const before = await scripts();
      // The deletion answers at once; its cleanup drops the files in the background, while the
      // room is created again and a file uploaded to it.
      await rooms.deleteRoom('a');
      expect(await rooms.createRoom(info, quotas)).toBe('created');
      expect(await upload('new')).toBe('stored');
      await settled(rooms);
      // SSCAN's COUNT is a hint: at least one step per DROP_ROOM_STEP ids, and one more to end.
      expect((await scripts()) - before).toBeGreaterThanOrEqual(files / DROP_ROOM_STEP);
      expect(await raw.smembers('many:att:room:{a}')).toEqual(['new']);
      expect(await raw.get('many:att:bytes')).toBe('2');
      expect(await attachments.get('old0')).toBeNull();
      expect(await attachments.get(`old${files - 1}`)).toBeNull();
      expect(await attachments.get('new')).not.toBeNull();
      expect(await attachments.dropRoom('a')).toBe(0); // nothing of a deleted room is left
    } finally {
      await raw.quit();
    }
  });
});
