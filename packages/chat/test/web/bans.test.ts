/**
 * Bans on the page, without a browser (room-state.ts `bans`, mayRemove, mayBan): the owner of a
 * public room may remove others from it (not in general, which has no owner, nor in someone else's
 * room); opening a room of theirs asks for its bans, every page; their own `removed` and `unbanned`
 * answers keep the list; a banned join is answered in the server's words where room answers go.
 */
import { describe, expect, it } from 'vitest';
import { type ClientMessage, DEFAULT_LIMITS, type RoomState } from '../../src/shared/protocol.js';
import { ChatState } from '../../src/web/room-state.js';

const room = (name: string, owner: string | null): RoomState => ({
  room: name,
  kind: 'public',
  owner,
  head: 0,
  unread: 0,
  mentions: 0,
  online: ['alice', 'bob'],
});

function setup() {
  const sent: ClientMessage[] = [];
  const state = new ChatState({ send: (m) => sent.push(m), now: () => 0 });
  state.receive({
    v: 2,
    type: 'welcome',
    invitations: [],
    blocked: [],
    user: 'alice',
    rooms: [room('general', null), room('lobby', 'alice'), room('hall', 'bob')],
    limits: DEFAULT_LIMITS,
  });
  const asked = (type: string) => sent.filter((m) => m.type === type) as (ClientMessage & { ref: string })[];
  return { state, sent, asked };
}

describe('bans on the page', () => {
  it('offers Remove in a public room only to its owner, beside the others', () => {
    const { state } = setup();
    expect(state.mayRemove('lobby', 'bob')).toBe(true);
    expect(state.mayRemove('lobby', 'alice')).toBe(false);
    expect(state.mayRemove('general', 'bob')).toBe(false);
    expect(state.mayRemove('hall', 'carol')).toBe(false);
    expect(state.mayBan('lobby')).toBe(true);
    expect(state.mayBan('general')).toBe(false);
  });

  it("asks for the owner's bans page by page when the room is opened; removed and unbanned keep the list", () => {
    const { state, asked } = setup();
    state.open('hall');
    state.open('general');
    expect(asked('bans')).toEqual([]); // not hers, nobody's
    state.open('lobby');
    const [first] = asked('bans');
    expect(first).toMatchObject({ room: 'lobby' });
    expect(first).not.toHaveProperty('after');
    state.receive({ v: 2, type: 'bans', ref: first.ref, room: 'lobby', users: ['bob'], next: 'bob' });
    expect(state.bans.get('lobby')).toBeUndefined(); // not before the last page
    const second = asked('bans')[1];
    expect(second).toMatchObject({ room: 'lobby', after: 'bob' });
    state.receive({ v: 2, type: 'bans', ref: second.ref, room: 'lobby', users: ['dan'] });
    expect(state.bans.get('lobby')).toEqual(['bob', 'dan']);

    state.removeMember('lobby', 'carol');
    const remove = asked('remove')[0];
    state.receive({ v: 2, type: 'removed', ref: remove.ref, room: 'lobby', user: 'carol' });
    expect(state.bans.get('lobby')).toEqual(['bob', 'carol', 'dan']);

    state.unban('lobby', 'bob');
    const unban = asked('unban')[0];
    expect(unban).toMatchObject({ room: 'lobby', user: 'bob' });
    state.receive({ v: 2, type: 'unbanned', ref: unban.ref, room: 'lobby', user: 'bob' });
    expect(state.bans.get('lobby')).toEqual(['carol', 'dan']);
    expect(state.roomDone).toBe('bob can join #lobby again.');
  });

  it('a server admin (welcome `admin`) moderates every public room, general too; not a private room or DM', () => {
    const sent: ClientMessage[] = [];
    const state = new ChatState({ send: (m) => sent.push(m), now: () => 0 });
    state.receive({
      v: 2,
      type: 'welcome',
      invitations: [],
      blocked: [],
      user: 'root',
      rooms: [
        room('general', null),
        room('hall', 'bob'),
        { ...room('plans', 'bob'), kind: 'private' },
        { ...room('dm:bob:root', null), kind: 'dm' },
      ],
      limits: DEFAULT_LIMITS,
      admin: true,
    });
    expect(state.admin).toBe(true);
    for (const name of ['general', 'hall']) {
      expect(state.mayBan(name)).toBe(true);
      expect(state.mayRemove(name, 'carol')).toBe(true);
      expect(state.mayRemove(name, 'root')).toBe(false);
    }
    expect(state.mayRemove('general', 'bob')).toBe(true);
    // Never a room's owner from it (the server refuses an admin's removal of them).
    expect(state.mayRemove('hall', 'bob')).toBe(false);
    for (const name of ['plans', 'dm:bob:root']) {
      expect(state.mayBan(name)).toBe(false);
      expect(state.mayRemove(name, 'bob')).toBe(false);
    }
    state.open('general');
    expect(sent.filter((m) => m.type === 'bans')).toMatchObject([{ room: 'general' }]);
    // Not an admin: nothing of it.
    const { state: alice } = setup();
    expect(alice.admin).toBe(false);
    expect(alice.mayBan('general')).toBe(false);
  });

  it('keeps the Banned list live from bans and unbans made in another tab (removed, unbanned without ref), saying nothing', () => {
    const { state, asked } = setup();
    state.open('lobby');
    const load = asked('bans')[0];
    state.receive({ v: 2, type: 'bans', ref: load.ref, room: 'lobby', users: ['dan'] });
    state.roomError = 'kept';
    state.receive({ v: 2, type: 'removed', room: 'lobby', user: 'bob' });
    expect(state.bans.get('lobby')).toEqual(['bob', 'dan']);
    state.receive({ v: 2, type: 'unbanned', room: 'lobby', user: 'dan' });
    expect(state.bans.get('lobby')).toEqual(['bob']);
    expect(state.roomError).toBe('kept');
    expect(state.roomDone).toBe('');
  });

  it("says a banned join's refusal where room answers go", () => {
    const { state, asked } = setup();
    state.joinOrCreate('lobby2');
    const join = asked('join')[0];
    state.receive({
      v: 2,
      type: 'error',
      ref: join.ref,
      code: 'banned',
      message: 'you are banned from this room',
    });
    expect(state.roomError).toBe('You are banned from #lobby2.');
    expect(asked('create')).toEqual([]); // not taken for a room nobody has ("join or create")
  });
});
