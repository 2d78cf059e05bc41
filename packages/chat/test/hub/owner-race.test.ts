/**
 * invite, remove and delete_room against a room deleted and made again by another user between
 * the hub's owner check (membership.ts reads the room) and the store's step: the store checks the
 * owner again in that step (RoomStore.invite's `by`, deleteRoom's, leave's and dropInvitation's
 * `owner`), so the old owner's request acts on nothing of the new owner's room. Before, the store's
 * step did not, and mallory invited herself into carol's new private room (the review's probe).
 * Each race is made by a hook on the store's method that runs the other requests first.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, register, startTestServer, TestClient } from '../helpers.js';

afterEach(cleanup);

const fast = { roomRate: { burst: 1000, perSecond: 1000 }, requestRate: { burst: 1000, perSecond: 1000 } };

describe('owner checks against a room deleted and made again by another user', () => {
  it("invite: the former owner cannot invite anyone (herself included) into the new owner's room", async () => {
    const server = await startTestServer({ limits: fast });
    const cookie = await register(server.origin, 'mallory');
    const mallory = (await TestClient.join(server.origin, cookie)).client;
    const other = (await TestClient.join(server.origin, cookie)).client;
    const carol = await TestClient.user(server.origin, 'carol');
    await mallory.request('joined', { type: 'create', room: 'secret', private: true });
    const rooms = server.backend.rooms;
    const invite = rooms.invite.bind(rooms);
    let raced = false;
    rooms.invite = async (room, user, by, at, limits) => {
      if (!raced && room === 'secret') {
        raced = true;
        // Between the hub's owner check and the store's step: mallory's room goes (her other
        // tab), and carol makes a private room of the same name.
        expect(await other.request('left', { type: 'delete_room', room: 'secret' })).toMatchObject({
          room: 'secret',
        });
        expect(
          await carol.request('joined', { type: 'create', room: 'secret', private: true }),
        ).toMatchObject({ kind: 'private' });
      }
      return invite(room, user, by, at, limits);
    };
    const answer = await mallory.request('invited', { type: 'invite', room: 'secret', user: 'mallory' });
    expect(raced).toBe(true);
    // Refused as for a room that is not there (mallory's is gone; carol's is none of hers to tell).
    expect(answer).toMatchObject({ type: 'error', code: 'no_such_room' });
    expect(await rooms.invitees('secret')).toEqual([]);
    expect(await mallory.request('joined', { type: 'accept', room: 'secret' })).toMatchObject({
      type: 'error',
    });
  });

  it('delete_room: a delete in flight does not delete the room made again by another user', async () => {
    const server = await startTestServer({ limits: fast });
    const cookie = await register(server.origin, 'mallory');
    const tab1 = (await TestClient.join(server.origin, cookie)).client;
    const tab2 = (await TestClient.join(server.origin, cookie)).client;
    const carol = await TestClient.user(server.origin, 'carol');
    await tab1.request('joined', { type: 'create', room: 'plans', private: true });
    await tab2.next('joined', (m) => m.room === 'plans');
    const rooms = server.backend.rooms;
    const del = rooms.deleteRoomAndInvitations.bind(rooms);
    let raced = false;
    rooms.deleteRoomAndInvitations = async (room, ...rest) => {
      if (!raced && room === 'plans') {
        raced = true;
        // tab2's delete has passed the owner check; tab1's own delete lands first, then carol's create.
        await del(room, ...rest);
        expect(await carol.request('joined', { type: 'create', room: 'plans', private: true })).toMatchObject(
          { kind: 'private' },
        );
      }
      return del(room, ...rest);
    };
    await tab2.request('left', { type: 'delete_room', room: 'plans' });
    expect(raced).toBe(true);
    // Carol's room is still there, and she is still in it (no deletion notice took her out).
    expect(await rooms.getRoom('plans')).toMatchObject({ owner: 'carol' });
    expect(await carol.request('history', { type: 'history', room: 'plans' })).toMatchObject({
      room: 'plans',
    });
  });

  it('remove: a removal in flight does not take a member out of the room made again by another user', async () => {
    const server = await startTestServer({ limits: fast });
    const mallory = await TestClient.user(server.origin, 'mallory');
    const carol = await TestClient.user(server.origin, 'carol');
    const bob = await TestClient.user(server.origin, 'bob');
    await mallory.request('joined', { type: 'create', room: 'plans', private: true });
    await mallory.request('invited', { type: 'invite', room: 'plans', user: 'bob' });
    await bob.request('joined', { type: 'accept', room: 'plans' });
    const rooms = server.backend.rooms;
    const leave = rooms.leave.bind(rooms);
    let raced = false;
    rooms.leave = async (user, room, ...rest) => {
      if (!raced && room === 'plans' && user === 'bob') {
        raced = true;
        expect(await rooms.deleteRoom('plans')).toBe(true);
        await carol.request('joined', { type: 'create', room: 'plans', private: true });
        await carol.request('invited', { type: 'invite', room: 'plans', user: 'bob' });
        await bob.request('joined', { type: 'accept', room: 'plans' });
      }
      return leave(user, room, ...rest);
    };
    await mallory.request('removed', { type: 'remove', room: 'plans', user: 'bob' });
    expect(raced).toBe(true);
    // Bob is still in carol's room: mallory's remove found nobody of hers to take out.
    expect(await rooms.isMember('bob', 'plans')).toBe(true);
  });

  it('remove: a removal in flight does not take back an invitation to the room made again by another user', async () => {
    const server = await startTestServer({ limits: fast });
    const mallory = await TestClient.user(server.origin, 'mallory');
    const carol = await TestClient.user(server.origin, 'carol');
    await TestClient.user(server.origin, 'bob');
    await mallory.request('joined', { type: 'create', room: 'plans', private: true });
    await mallory.request('invited', { type: 'invite', room: 'plans', user: 'bob' });
    const rooms = server.backend.rooms;
    const leave = rooms.leave.bind(rooms);
    let raced = false;
    rooms.leave = async (user, room, ...rest) => {
      if (!raced && room === 'plans' && user === 'bob') {
        raced = true;
        expect(await rooms.deleteRoom('plans')).toBe(true);
        await carol.request('joined', { type: 'create', room: 'plans', private: true });
        await carol.request('invited', { type: 'invite', room: 'plans', user: 'bob' });
      }
      return leave(user, room, ...rest);
    };
    // Bob is not a member: the hub takes back his invitation instead, owner checked with it.
    expect(await mallory.request('removed', { type: 'remove', room: 'plans', user: 'bob' })).toMatchObject({
      type: 'error',
      code: 'not_member',
    });
    expect(raced).toBe(true);
    expect(await rooms.invitees('plans')).toEqual(['bob']);
  });
});
