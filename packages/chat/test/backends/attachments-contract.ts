/**
 * The attachment store contract (ports.ts: AttachmentStore), run against every backend:
 * test/backends/sqlite/attachments.test.ts and test/redis/attachments.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { AttachmentRecord, AttachmentStore, RoomStore } from '../../src/server/ports.js';

const record = (id: string, extra: Partial<AttachmentRecord> = {}): AttachmentRecord => ({
  id,
  name: `${id}.png`,
  type: 'image/png',
  size: 4,
  width: 2,
  height: 1,
  room: 'a',
  user: 'ann',
  createdAt: 1000,
  clientId: null,
  seq: null,
  ...extra,
});
const bytes = (n = 4) => Buffer.alloc(n, 7);

export function attachmentsContract(
  name: string,
  /** The attachment store, and the room store of the same backend (rooms are created and deleted). */
  open: (maxTotalBytes?: number) => Promise<{ attachments: AttachmentStore; rooms: RoomStore }>,
): void {
  describe(`${name}: the attachment store contract`, () => {
    it('keeps the bytes and the record of an upload', async () => {
      const { attachments: store } = await open();
      const data = Buffer.from([0, 1, 2, 255, 254, 0]);
      expect(await store.put(record('f1', { size: 6 }), data, 5)).toBe('stored');
      expect(await store.get('f1')).toEqual({ record: record('f1', { size: 6 }), data });
      expect(await store.get('nope')).toBeNull();
      const text = record('f2', { type: 'text/plain', name: 'notes.txt' });
      delete text.width;
      delete text.height;
      await store.put(text, bytes(), 5);
      expect((await store.get('f2'))?.record).toEqual(text);
    });

    it('holds at most maxUnused uploads per user that no message used', async () => {
      const { attachments: store } = await open();
      expect(await store.put(record('f1'), bytes(), 2)).toBe('stored');
      expect(await store.put(record('f2'), bytes(), 2)).toBe('stored');
      expect(await store.put(record('f3'), bytes(), 2)).toBe('too_many_unused');
      expect(await store.put(record('g1', { user: 'ben' }), bytes(), 2)).toBe('stored');
      expect(await store.claim(['f1'], 'ann', 'a', 'm1')).not.toBeNull();
      expect(await store.put(record('f3'), bytes(), 2)).toBe('stored');
    });

    it('claims all or nothing: the uploader, the room, unused or claimed by the same message', async () => {
      const { attachments: store } = await open();
      await store.put(record('f1'), bytes(), 9);
      await store.put(record('f2', { name: 'two.png' }), bytes(), 9);
      await store.put(record('b1', { user: 'ben' }), bytes(), 9);
      await store.put(record('o1', { room: 'other' }), bytes(), 9);
      expect(await store.claim(['f1', 'b1'], 'ann', 'a', 'm1')).toBeNull();
      expect(await store.claim(['f1', 'o1'], 'ann', 'a', 'm1')).toBeNull();
      expect(await store.claim(['f1', 'missing'], 'ann', 'a', 'm1')).toBeNull();
      const claimed = await store.claim(['f2', 'f1'], 'ann', 'a', 'm1');
      expect(claimed).toEqual([
        { id: 'f2', name: 'two.png', type: 'image/png', size: 4, width: 2, height: 1 },
        { id: 'f1', name: 'f1.png', type: 'image/png', size: 4, width: 2, height: 1 },
      ]);
      // A resend of the same message claims them again; another message cannot.
      expect(await store.claim(['f1', 'f2'], 'ann', 'a', 'm1')).toHaveLength(2);
      expect(await store.claim(['f1'], 'ann', 'a', 'm2')).toBeNull();
      expect((await store.get('f1'))?.record).toMatchObject({ clientId: 'm1', seq: null });
    });

    it('releases the files a refused message claimed: unused again, for any message; never bound ones', async () => {
      const { attachments: store } = await open();
      await store.put(record('f1'), bytes(), 2);
      await store.put(record('f2'), bytes(), 2);
      await store.claim(['f1', 'f2'], 'ann', 'a', 'm1');
      await store.bind('a', ['f2'], 1);
      // Only the claims of that user's message are given back, and a bound file stays bound.
      await store.release(['f1', 'f2'], 'ben', 'm1');
      await store.release(['f1', 'f2'], 'ann', 'm9');
      expect(await store.claim(['f1'], 'ann', 'a', 'm2')).toBeNull();
      await store.release(['f1', 'f2'], 'ann', 'm1');
      expect((await store.get('f1'))?.record).toMatchObject({ clientId: null, seq: null });
      expect((await store.get('f2'))?.record).toMatchObject({ clientId: 'm1', seq: 1 });
      // Unused again: it counts against maxUnused, and another message may claim it.
      expect(await store.put(record('f3'), bytes(), 1)).toBe('too_many_unused');
      expect(await store.claim(['f1'], 'ann', 'a', 'm2')).toHaveLength(1);
    });

    it('binds files to their message, frees them when it is deleted', async () => {
      const { attachments: store } = await open();
      await store.put(record('f1'), bytes(), 9);
      await store.put(record('f2'), bytes(), 9);
      await store.claim(['f1', 'f2'], 'ann', 'a', 'm1');
      await store.bind('a', ['f1', 'f2'], 7);
      expect((await store.get('f1'))?.record).toMatchObject({ clientId: 'm1', seq: 7 });
      await store.dropMessage('a', 6);
      expect(await store.get('f1')).not.toBeNull();
      await store.dropMessage('a', 7);
      expect(await store.get('f1')).toBeNull();
      expect(await store.get('f2')).toBeNull();
    });

    it("the message's append binds its files: with no bind after it (failed, or the node killed), the sweep leaves them", async () => {
      // Regression: the files were bound by the hub's bind() after the append, in a call of its
      // own. When that failed (storage gone between the two) or the process died in between, the
      // stored message named files the sweep of unused uploads then deleted.
      const { attachments: store, rooms } = await open();
      await rooms.createRoom(
        { name: 'a', kind: 'public', owner: null, createdAt: 0 },
        { maxRooms: 9, maxOwnedRooms: 9 },
      );
      await rooms.join('ann', 'a', 9);
      await store.put(record('f1'), bytes(), 9);
      await store.put(record('f2'), bytes(), 9);
      await store.put(record('left', { createdAt: 100 }), bytes(), 9);
      const files = await store.claim(['f1', 'f2'], 'ann', 'a', 'm1');
      expect(files).toHaveLength(2);
      const sent = await rooms.appendEvent({
        type: 'message',
        room: 'a',
        user: 'ann',
        clientId: 'm1',
        text: '',
        ts: 2000,
        attachments: files ?? [],
      });
      const seq = sent.ok && sent.event.type === 'message' ? sent.event.message.seq : -1;
      expect(seq).toBeGreaterThan(0);
      // No bind(); the sweep, long after, takes only the upload no message used.
      expect(await store.expireUnused(Number.MAX_SAFE_INTEGER)).toBe(1);
      expect(await store.get('left')).toBeNull();
      expect((await store.get('f1'))?.record).toMatchObject({ clientId: 'm1', seq });
      expect((await store.get('f2'))?.data).toEqual(bytes());
      // Bound to that message: its deletion frees them.
      await store.dropMessage('a', seq);
      expect(await store.get('f1')).toBeNull();
      expect(await store.get('f2')).toBeNull();
    });

    it("frees every file of a deleted room, sent or not, and only that room's", async () => {
      const { attachments: store } = await open(12);
      await store.put(record('sent'), bytes(), 9);
      await store.put(record('unsent'), bytes(), 9);
      await store.put(record('kept', { room: 'b' }), bytes(), 9);
      await store.claim(['sent'], 'ann', 'a', 'm1');
      await store.bind('a', ['sent'], 4);
      expect(await store.put(record('over'), bytes(), 9)).toBe('full');
      expect(await store.dropRoom('a')).toBe(2);
      expect(await store.get('sent')).toBeNull();
      expect(await store.get('unsent')).toBeNull();
      expect(await store.get('kept')).not.toBeNull();
      expect(await store.dropRoom('a')).toBe(0);
      // Their bytes are counted back: two more fit under the cap of 12.
      expect(await store.put(record('n1', { room: 'b' }), bytes(), 9)).toBe('stored');
      expect(await store.put(record('n2', { room: 'b' }), bytes(), 9)).toBe('stored');
      expect(await store.put(record('n3', { room: 'b' }), bytes(), 9)).toBe('full');
    });

    it("a deletion drops its room's files, never those of a room created again under the name", async () => {
      const { attachments: store, rooms } = await open(20);
      const create = () =>
        rooms.createRoom(
          { name: 'a', kind: 'public', owner: null, createdAt: 0 },
          { maxRooms: 9, maxOwnedRooms: 9 },
        );
      expect(await create()).toBe('created');
      await store.put(record('sent'), bytes(), 9);
      await store.put(record('unsent'), bytes(), 9);
      await store.put(record('ben1', { user: 'ben' }), bytes(), 9);
      expect(await store.claim(['sent'], 'ann', 'a', 'm1')).not.toBeNull();
      await store.bind('a', ['sent'], 1);
      // The order a node may see: the room deleted (the store's step), created again at once, a
      // member of the new room uploading, and only then a drop of the deleted room's files (the
      // store's own cleanup, Redis: in the background, or a dropRoom).
      expect(await rooms.deleteRoom('a')).toBe(true);
      expect(await create()).toBe('created');
      await store.put(record('new', { createdAt: 2000 }), bytes(), 9);
      // A file of the deleted room cannot be sent in the new one (its drop is still to come).
      expect(await store.claim(['ben1'], 'ben', 'a', 'm2')).toBeNull();
      expect(await store.dropRoom('a')).toBeLessThanOrEqual(3);
      expect(await store.get('sent')).toBeNull();
      expect(await store.get('unsent')).toBeNull();
      expect(await store.get('ben1')).toBeNull();
      expect((await store.get('new'))?.data).toEqual(bytes());
      expect(await store.claim(['new'], 'ann', 'a', 'm3')).not.toBeNull();
      await store.bind('a', ['new'], 2);
      // Later drops of the name (another deletion's, late) leave the new room's file too.
      expect(await store.dropRoom('a')).toBe(0);
      expect((await store.get('new'))?.record).toMatchObject({ room: 'a', seq: 2 });
      // The old files' bytes were counted back: 16 of 20 fit beside the new file's 4.
      for (const id of ['x1', 'x2', 'x3', 'x4'])
        expect(await store.put(record(id, { room: 'b' }), bytes(), 9)).toBe('stored');
      expect(await store.put(record('x5', { room: 'b' }), bytes(), 9)).toBe('full');
      // The new room deleted in turn: its file goes with the drop that follows.
      await rooms.deleteRoom('a');
      await store.dropRoom('a');
      expect(await store.get('new')).toBeNull();
    });

    it('an upload that reaches the store after its room was deleted is dropped with it', async () => {
      const { attachments: store, rooms } = await open();
      await rooms.createRoom(
        { name: 'a', kind: 'public', owner: null, createdAt: 0 },
        { maxRooms: 9, maxOwnedRooms: 9 },
      );
      await rooms.deleteRoom('a');
      await store.put(record('late'), bytes(), 9); // its membership was checked before the deletion
      expect(await store.dropRoom('a')).toBe(1);
      expect(await store.get('late')).toBeNull();
    });

    it('expires uploads not bound to a message in time, claimed or not', async () => {
      const { attachments: store } = await open();
      await store.put(record('old', { createdAt: 100 }), bytes(), 9);
      await store.put(record('claimed', { createdAt: 100 }), bytes(), 9);
      await store.put(record('sent', { createdAt: 100 }), bytes(), 9);
      await store.put(record('new', { createdAt: 500 }), bytes(), 9);
      await store.claim(['claimed'], 'ann', 'a', 'm1');
      await store.claim(['sent'], 'ann', 'a', 'm2');
      await store.bind('a', ['sent'], 3);
      expect(await store.expireUnused(500)).toBe(2);
      expect(await store.get('old')).toBeNull();
      expect(await store.get('claimed')).toBeNull();
      expect(await store.get('sent')).not.toBeNull();
      expect(await store.get('new')).not.toBeNull();
      // The expired ones gave back their places among the user's unused uploads.
      expect(await store.put(record('x1'), bytes(), 2)).toBe('stored');
    });

    it('refuses an upload beyond the total size, and counts freed bytes back', async () => {
      const { attachments: store } = await open(10);
      const put = (id: string, size: number) => store.put(record(id, { size }), bytes(size), 9);
      expect(await put('f1', 6)).toBe('stored');
      expect(await put('f2', 5)).toBe('full');
      expect(await put('f3', 4)).toBe('stored');
      await store.claim(['f1'], 'ann', 'a', 'm1');
      await store.bind('a', ['f1'], 1);
      await store.dropMessage('a', 1);
      expect(await put('f2', 5)).toBe('stored');
      expect(await store.expireUnused(Number.MAX_SAFE_INTEGER)).toBe(2);
      expect(await put('f4', 10)).toBe('stored');
    });
  });
}
