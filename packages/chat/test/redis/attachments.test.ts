/** The attachment contract on Redis (a byte count under a cap), and a message's files kept in history. */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/server/ports.js';
import { attachmentsContract } from '../backends/attachments-contract.js';
import { redisBackendsForThisFile } from './backend.js';

const openBackend = redisBackendsForThisFile();

function backend(maxAttachmentBytes?: number): Promise<Backend> {
  return openBackend(maxAttachmentBytes ? { maxAttachmentBytes } : {});
}

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
