/**
 * A room deleted on one node while a room of the same name is created again on another, and a file
 * uploaded to it and sent, before the deleted room's files are dropped (Redis: by the deletion's
 * cleanup, in the background after its answer, so that window is wide): the new room's file stays
 * served.
 */
import { describe, expect, it, vi } from 'vitest';
import type { RedisStore } from '../../src/server/backends/redis/store.js';
import { png } from '../attachments/files.js';
import { register, TestClient } from '../helpers.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

/**
 * The first step of a deletion's cleanup over its room's files (store.ts #clearGrave calls
 * dropRoomStep) is held at a barrier: `entered` resolves with its room, `release` lets it go on.
 * Without it that step ran a few round trips after the deletion, always before the new room's
 * upload: the test passed with DROP_ROOM's incarnation check removed.
 */
const fileStep = await vi.hoisted(async () => {
  const { gate } = await import('../attachments/hold-drop-room.js');
  return { ...gate(), held: false };
});

vi.mock('../../src/server/backends/redis/attachments.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/server/backends/redis/attachments.js')>();
  return {
    ...actual,
    dropRoomStep: async (...args: Parameters<typeof actual.dropRoomStep>) => {
      if (!fileStep.held) {
        fileStep.held = true;
        fileStep.enter(args[2]);
        await fileStep.open;
      }
      return actual.dropRoomStep(...args);
    },
  };
});

const redis = redisServerForThisFile();
const { servers, clients } = closedAfterEachTest();

async function upload(origin: string, cookie: string, room: string, data: Buffer): Promise<string> {
  const res = await fetch(`${origin}/api/attachments?${new URLSearchParams({ room, name: 'f.png' })}`, {
    method: 'POST',
    headers: { cookie, origin, 'content-type': 'application/octet-stream' },
    body: data,
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

async function download(
  origin: string,
  cookie: string,
  id: string,
): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(`${origin}/api/attachments/${id}`, { headers: { cookie } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

describe('a room deleted and created again at once, on two nodes', () => {
  it("the deletion drops the deleted room's files only, not the new room's uploaded before its drop", async () => {
    const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix: 'recreated:' });
    servers.push(...nodes);
    const [a, b] = nodes.map((node) => node.url.replace(/\/$/, ''));
    const alice = await register(a, 'alice');
    const eve = await register(b, 'eve');
    const aliceWs = (await TestClient.join(a, alice)).client;
    const eveWs = (await TestClient.join(b, eve)).client;
    clients.push(aliceWs, eveWs);
    await aliceWs.request('joined', { type: 'create', room: 'team' });
    const old = await upload(a, alice, 'team', png(1, 1));
    expect(
      await aliceWs.request('ack', { type: 'send', id: 'm1', room: 'team', text: '', attachments: [old] }),
    ).toMatchObject({ type: 'ack' });
    // Answered; its cleanup is held before its first step over the files.
    expect(await aliceWs.request('left', { type: 'delete_room', room: 'team' })).toMatchObject({
      type: 'left',
      room: 'team',
      reason: 'deleted',
    });
    expect(await fileStep.entered).toBe('team');
    await eveWs.request('joined', { type: 'create', room: 'team' });
    const fresh = await upload(b, eve, 'team', png(2, 2));
    expect(
      await eveWs.request('ack', { type: 'send', id: 'e1', room: 'team', text: '', attachments: [fresh] }),
    ).toMatchObject({ type: 'ack' });
    fileStep.release();
    await (nodes[0].backend.rooms as RedisStore).settled(); // the deletion's cleanup, after its answer
    const served = await download(b, eve, fresh);
    expect(served.status).toBe(200);
    expect(served.body).toEqual(png(2, 2));
    expect(await nodes[1].backend.attachments.get(old)).toBeNull();
  });
});
