/**
 * The page's state without a browser: events applied in seq order (replays, gaps, duplicates),
 * notices that say what happened (issue 15, item 4), typing that ends with the message, errors
 * matched to what caused them.
 */
import { describe, expect, it } from 'vitest';
import {
  type ChatMessage,
  type ClientMessage,
  DEFAULT_LIMITS,
  type RoomState,
  type ServerMessage,
} from '../../src/shared/protocol.js';
import { ChatState, NEW_BELOW_SAY_MS, putInOrder, TYPING_SHOW_MS } from '../../src/web/room-state.js';

function setup(rooms: RoomState[] = [general()]) {
  const sent: ClientMessage[] = [];
  let now = 1000;
  const state = new ChatState({ send: (m) => sent.push(m), now: () => now });
  state.receive({
    v: 2,
    type: 'welcome',
    invitations: [],
    blocked: [],
    user: 'alice',
    rooms,
    limits: DEFAULT_LIMITS,
  });
  return {
    state,
    sent,
    advance: (ms: number) => {
      now += ms;
    },
    now: () => now,
    last: () => sent.at(-1) as ClientMessage & { ref: string },
  };
}

/** A public room's state as welcome gives it, with `fields` changed. */
function roomState(room: string, fields: Partial<RoomState> = {}): RoomState {
  return { room, kind: 'public', owner: null, head: 0, unread: 0, mentions: 0, online: [], ...fields };
}

function general(head = 0, online = ['alice']): RoomState {
  return roomState('general', { head, online });
}

const message = (seq: number, user = 'bob', room = 'general'): ServerMessage => ({
  v: 2,
  type: 'message',
  message: { room, seq, id: `id${seq}`, user, text: `text ${seq}`, ts: seq },
});

/** bob's message `seq` in `room`, mentioning `mentions` if given. */
const bobSays = (room: string, seq: number, mentions?: string[]): ServerMessage => ({
  v: 2,
  type: 'message',
  message: { room, seq, id: `m${seq}`, user: 'bob', text: 'hey', ts: seq, ...(mentions ? { mentions } : {}) },
});

function history(
  room: string,
  ref: string,
  messages: ChatMessage[],
  head: number,
  hasMore = false,
): ServerMessage {
  return { v: 2, type: 'history', ref, room, messages, head, hasMore };
}

/** A `reacted` event on message 1 of general. */
const react = (seq: number, user: string, emoji: string, on: boolean): ServerMessage => ({
  v: 2,
  type: 'reacted',
  room: 'general',
  seq,
  target: 1,
  user,
  emoji,
  on,
  ts: seq,
});

const seqs = (state: ChatState, room = 'general') => [...(state.rooms.get(room)?.messages.keys() ?? [])];

describe('ChatState', () => {
  it('loads the open room, then applies events in seq order, once', () => {
    const { state, last } = setup([general(2)]);
    expect(last()).toMatchObject({ type: 'history', room: 'general' });
    state.receive(
      history(
        'general',
        last().ref,
        [1, 2].map((s) => (message(s) as { message: ChatMessage }).message),
        2,
      ),
    );
    expect(state.hello()).toEqual({ v: 2, type: 'hello', rooms: { general: 2 } });
    state.receive(message(2)); // a duplicate: ignored
    state.receive(message(3));
    expect(seqs(state)).toEqual([1, 2, 3]);
    expect(state.rooms.get('general')?.head).toBe(3);
  });

  it('applies reactions as room events: no gap, no unread, the current state on the message', () => {
    const { state, last, sent } = setup([general(1)]);
    state.receive(history('general', last().ref, [(message(1) as { message: ChatMessage }).message], 1));
    const requests = sent.length;
    state.receive(react(2, 'carol', '👍', true));
    state.receive(react(3, 'bob', '👍', true));
    state.receive(react(4, 'bob', '🎉', true));
    state.receive(react(5, 'carol', '👍', false));
    state.receive(message(6));
    expect(state.rooms.get('general')?.messages.get(1)?.reactions).toEqual({ '👍': ['bob'], '🎉': ['bob'] });
    expect(seqs(state)).toEqual([1, 6]);
    expect(sent.length).toBe(requests); // no sync: the reactions filled seqs 2..5
    expect(state.hello()).toEqual({ v: 2, type: 'hello', rooms: { general: 6 } });
  });

  it('holds an event past a gap, asks for the gap with sync, and applies both in order', () => {
    const { state, sent, last } = setup();
    state.receive(history('general', last().ref, [], 0));
    state.receive(message(1));
    state.receive(message(3));
    expect(seqs(state)).toEqual([1]);
    expect(last()).toMatchObject({ type: 'sync', room: 'general', after: 1 });
    state.receive(message(4));
    expect(sent.filter((m) => m.type === 'sync')).toHaveLength(1);
    state.receive(message(2));
    expect(seqs(state)).toEqual([1, 2, 3, 4]);
  });

  it('asks for the events a history reply is older than (found by the chaos test, on Redis)', () => {
    // The page opens r2 and asks its history; message 5 arrives live before the reply, which was
    // read (on another node's Redis) before 5 was stored: head 4. The page used to load 1..4 and
    // take 4 as its head, so message 5 was missing until another event showed the gap.
    const { state, sent, last } = setup([general(), roomState('r2', { head: 4 })]);
    state.receive(history('general', last().ref, [], 0));
    state.open('r2');
    const ask = last();
    expect(ask).toMatchObject({ type: 'history', room: 'r2' });
    state.receive(message(5, 'bob', 'r2'));
    const page = [1, 2, 3, 4].map((s) => (message(s, 'bob', 'r2') as { message: ChatMessage }).message);
    state.receive(history('r2', ask.ref, page, 4));
    expect(last()).toMatchObject({ type: 'sync', room: 'r2', after: 4 });
    expect(state.rooms.get('r2')?.syncing).toBe(true);
    state.receive(message(5, 'bob', 'r2'));
    state.receive({ v: 2, type: 'synced', ref: last().ref, room: 'r2', head: 5 });
    expect(seqs(state, 'r2')).toEqual([1, 2, 3, 4, 5]);
    expect(state.hello()).toMatchObject({ rooms: { general: 0, r2: 5 } });
    // A reply as new as what the page has seen asks nothing more.
    const syncs = sent.filter((m) => m.type === 'sync').length;
    state.receive({ v: 2, type: 'reset', room: 'r2', head: 5 });
    state.receive(history('r2', last().ref, page, 5));
    expect(sent.filter((m) => m.type === 'sync')).toHaveLength(syncs);
  });

  it("names the tag of its head's event when it resumes (hello, sync), and forgets it when the head moves without one", () => {
    const { state, last } = setup([general(2)]);
    const tagged = (seq: number, tag: string) => ({ ...message(seq), tag }) as ServerMessage;
    // The history's head comes with the tag of the event at it (Redis).
    state.receive({ ...history('general', last().ref, [], 2), tag: 'head2' } as ServerMessage);
    expect(state.hello()).toEqual({ v: 2, type: 'hello', rooms: { general: 2 }, tags: { general: 'head2' } });
    state.receive(tagged(3, 'tag3'));
    state.receive(tagged(3, 'other')); // a duplicate: neither applied nor its tag taken
    expect(state.hello()).toEqual({ v: 2, type: 'hello', rooms: { general: 3 }, tags: { general: 'tag3' } });
    state.receive(tagged(5, 'tag5'));
    expect(last()).toMatchObject({ type: 'sync', room: 'general', after: 3, tag: 'tag3' });
    state.receive(tagged(4, 'tag4'));
    expect(state.hello()).toEqual({ v: 2, type: 'hello', rooms: { general: 5 }, tags: { general: 'tag5' } });
    // An event without a tag (memory or SQLite): the hello names none, as before tags.
    state.receive(message(6));
    expect(state.hello()).toEqual({ v: 2, type: 'hello', rooms: { general: 6 } });
    state.receive(tagged(7, 'tag7'));
    // `reset`: the room reloads; its head has no known tag until the history says it.
    state.receive({ v: 2, type: 'reset', room: 'general', head: 9 });
    expect(state.rooms.get('general')?.tag).toBeNull();
    expect(last()).toMatchObject({ type: 'history', room: 'general' });
    state.receive({ ...history('general', last().ref, [], 9), tag: 'head9' } as ServerMessage);
    expect(state.hello()).toEqual({ v: 2, type: 'hello', rooms: { general: 9 }, tags: { general: 'head9' } });
  });

  it("names its head's tag in `read` (Redis): a node whose log lost that event keeps the marker", () => {
    const { state, last } = setup([general(2)]);
    state.receive({ ...history('general', last().ref, [], 2), tag: 'head2' } as ServerMessage);
    state.markRead();
    expect(last()).toMatchObject({ type: 'read', room: 'general', seq: 2, tag: 'head2' });
    state.receive({ ...message(3), tag: 'tag3' } as ServerMessage);
    state.markRead();
    expect(last()).toMatchObject({ type: 'read', room: 'general', seq: 3, tag: 'tag3' });
    // Without a tag (memory or SQLite, or a head whose event had none): the read names none.
    state.receive(message(4));
    state.markRead();
    expect(last()).toMatchObject({ type: 'read', room: 'general', seq: 4 });
    expect(last()).not.toHaveProperty('tag');
  });

  it('writes joins and leaves in the timeline; presence only moves the online list', () => {
    const { state, last } = setup();
    state.receive(history('general', last().ref, [], 0));
    state.receive({ v: 2, type: 'member', room: 'general', user: 'bob', joined: true });
    state.receive({ v: 2, type: 'presence', room: 'general', user: 'bob', online: true });
    state.receive({ v: 2, type: 'presence', room: 'general', user: 'carol', online: true });
    state.receive({ v: 2, type: 'presence', room: 'general', user: 'carol', online: false });
    const room = state.rooms.get('general');
    expect([...(room?.online ?? [])].sort()).toEqual(['alice', 'bob']);
    state.receive({ v: 2, type: 'member', room: 'general', user: 'bob', joined: false });
    expect(room?.notices.map((n) => n.text)).toEqual(['bob joined #general', 'bob left #general']);
    expect([...(room?.online ?? [])]).toEqual(['alice']);
  });

  it('shows typing for a few seconds, and not once the typist\u2019s message arrived', () => {
    const { state, last, advance, now } = setup();
    state.receive(history('general', last().ref, [], 0));
    state.receive({ v: 2, type: 'typing', room: 'general', user: 'bob' });
    state.receive({ v: 2, type: 'typing', room: 'general', user: 'carol' });
    state.receive({ v: 2, type: 'typing', room: 'general', user: 'alice' }); // our own: not shown
    expect(state.typingIn('general', now())).toEqual(['bob', 'carol']);
    expect(state.nextTypingExpiry(now())).toBe(now() + TYPING_SHOW_MS);
    state.receive(message(1, 'bob'));
    expect(state.typingIn('general', now())).toEqual(['carol']);
    advance(TYPING_SHOW_MS);
    expect(state.typingIn('general', now())).toEqual([]);
    expect(state.nextTypingExpiry(now())).toBeNull();
  });

  it('drops the typing of a member who left or was removed, and of one gone offline', () => {
    const { state, last, now } = setup([general(0, ['alice', 'bob', 'carol', 'dave'])]);
    state.receive(history('general', last().ref, [], 0));
    for (const user of ['bob', 'carol', 'dave'])
      state.receive({ v: 2, type: 'typing', room: 'general', user });
    expect(state.typingIn('general', now())).toEqual(['bob', 'carol', 'dave']);
    state.changes.clear();
    // The `member` notice of a removal (or a leave), before the typing would have expired.
    state.receive({ v: 2, type: 'member', room: 'general', user: 'bob', joined: false });
    expect(state.typingIn('general', now())).toEqual(['carol', 'dave']);
    expect(state.changes.has('typing')).toBe(true);
    // A typing notice sent just before the removal, overtaken by it, ends with the user's presence.
    state.receive({ v: 2, type: 'typing', room: 'general', user: 'bob' });
    state.receive({ v: 2, type: 'presence', room: 'general', user: 'bob', online: false });
    expect(state.typingIn('general', now())).toEqual(['carol', 'dave']);
    state.receive({ v: 2, type: 'presence', room: 'general', user: 'carol', online: false });
    expect(state.typingIn('general', now())).toEqual(['dave']);
    // Gone offline while this page was cut off: the resume's welcome no longer lists dave online
    // (the presence notice was missed), and his typing line went with it (it stayed until expiry).
    state.receive({
      v: 2,
      type: 'welcome',
      invitations: [],
      blocked: [],
      user: 'alice',
      rooms: [general(0, ['alice'])],
      limits: DEFAULT_LIMITS,
    });
    expect(state.typingIn('general', now())).toEqual([]);
  });

  it('ignores an error about a room it has left (a read marker sent just before leaving)', () => {
    const random: RoomState = roomState('random');
    const { state, sent, last } = setup([general(), random]);
    state.receive(history('general', last().ref, [], 0));
    state.open('random');
    state.receive(history('random', last().ref, [], 0));
    state.markRead();
    const read = last();
    state.leave('random');
    state.receive({ v: 2, type: 'left', ref: last().ref, room: 'random' });
    state.receive({
      v: 2,
      type: 'error',
      ref: read.ref,
      code: 'not_member',
      message: 'you are not in room random',
    });
    expect(state.composerError).toBe('');
    expect(state.active).toBe('general');
    expect(sent.map((m) => m.type)).toEqual(['history', 'history', 'read', 'leave']);
  });

  it('joins a room, or creates it when nobody has it, and reports a refusal where it belongs', () => {
    const { state, sent, last } = setup();
    state.joinOrCreate('rust');
    const join = last();
    expect(join).toMatchObject({ type: 'join', room: 'rust' });
    state.receive({ v: 2, type: 'error', ref: join.ref, code: 'no_such_room', message: 'no room' });
    const create = last();
    expect(create).toMatchObject({ type: 'create', room: 'rust' });
    state.receive({
      v: 2,
      type: 'joined',
      ref: create.ref,
      room: 'rust',
      kind: 'public',
      owner: 'alice',
      head: 0,
      unread: 0,
      mentions: 0,
      online: ['alice'],
    });
    expect(state.active).toBe('rust');
    state.joinOrCreate('full');
    state.receive({ v: 2, type: 'error', ref: last().ref, code: 'too_many_rooms', message: 'too many' });
    expect(state.roomError).toBe('too many');
    expect(state.composerError).toBe('');
    expect(sent.filter((m) => m.type === 'create')).toHaveLength(1);
  });

  it('says a room it could neither join nor create is private, not that it "already exists"', () => {
    const { state, last } = setup();
    state.joinOrCreate('plans');
    state.receive({
      v: 2,
      type: 'error',
      ref: last().ref,
      code: 'no_such_room',
      message: 'room plans does not exist',
    });
    const create = last();
    expect(create).toMatchObject({ type: 'create', room: 'plans' });
    state.receive({
      v: 2,
      type: 'error',
      ref: create.ref,
      code: 'room_exists',
      message: 'room plans already exists',
    });
    expect(state.roomError).toBe('#plans is a private room: its owner can invite you');
    // Creating a private room under a taken name is another question: the server's answer stands.
    state.roomError = '';
    state.joinOrCreate('plans', true);
    state.receive({
      v: 2,
      type: 'error',
      ref: last().ref,
      code: 'room_exists',
      message: 'room plans already exists',
    });
    expect(state.roomError).toBe('room plans already exists');
  });

  it('takes the answer about another room away when the room form opens a room the user is in', () => {
    // Regression: the refusal of the last name asked for stayed under the form when the next name
    // was a room the page has (opened without asking the server), as if said of that room.
    const { state, last } = setup([general(), roomState('random')]);
    state.joinOrCreate('plans', true);
    state.receive({
      v: 2,
      type: 'error',
      ref: last().ref,
      code: 'room_exists',
      message: 'room plans already exists',
    });
    expect(state.roomError).toBe('room plans already exists');
    state.changes.clear();
    state.joinOrCreate('random');
    expect([state.active, state.roomError]).toEqual(['random', '']);
    expect(state.changes.has('errors')).toBe(true);
  });

  it("answers a refused directory (All rooms) where room requests are answered, not under the composer (a phone's rooms drawer covered it)", () => {
    const { state, last } = setup();
    state.listRooms();
    state.receive({
      v: 2,
      type: 'error',
      ref: last().ref,
      code: 'unavailable',
      message: 'the storage is unavailable; retry later',
    });
    expect(state.roomError).toBe('the storage is unavailable; retry later');
    expect(state.composerError).toBe('');
  });

  it('says the wait of a rate limit in seconds, not in the milliseconds of the protocol', () => {
    const { state, last } = setup();
    state.joinOrCreate('r1');
    state.receive({
      v: 2,
      type: 'error',
      ref: last().ref,
      code: 'rate_limited',
      message: 'too many requests; retry in 3808 ms',
      retryAfterMs: 3808,
    });
    expect(state.roomError).toBe('Too many requests — try again in 4 s.');
    state.edit('general', 1, 'again');
    state.receive({
      v: 2,
      type: 'error',
      ref: last().ref,
      code: 'rate_limited',
      message: 'too many requests; retry in 20 ms',
      retryAfterMs: 20,
    });
    expect(state.composerError).toBe('Too many requests — try again in 1 s.');
  });

  it('counts unread messages of rooms not shown, and of the shown one while the tab is hidden', () => {
    const random: RoomState = roomState('random');
    const { state, last } = setup([general(), random]);
    state.receive(history('general', last().ref, [], 0));
    state.receive(message(1, 'bob', 'random'));
    state.receive(message(2, 'alice', 'random'));
    expect(state.rooms.get('random')?.unread).toBe(1);
    state.visible = false;
    state.receive(message(1, 'bob'));
    expect(state.rooms.get('general')?.unread).toBe(1);
    expect(state.unreadElsewhere).toBe(1);
  });

  it('counts the messages of others arriving while the reader is scrolled back, until they reach the end', () => {
    const { state, last } = setup();
    state.receive(history('general', last().ref, [], 0));
    state.seenEnd(true);
    // At the end, new messages are followed: nothing to count.
    state.receive(message(1));
    expect(state.newBelow).toBe(0);
    state.seenEnd(false);
    state.receive(message(2));
    state.receive(message(3, 'alice'));
    state.receive(message(4));
    state.receive(message(5));
    expect(state.newBelow).toBe(3);
    // Still scrolled back (a redraw, a scroll upwards): the count stays.
    state.seenEnd(false);
    expect(state.newBelow).toBe(3);
    state.seenEnd(true);
    expect(state.newBelow).toBe(0);
    // Counted again from one; opening another room ends the count (it is the open room's).
    state.seenEnd(false);
    state.receive(message(6));
    expect(state.newBelow).toBe(1);
    state.joinOrCreate('random');
    state.receive({ v: 2, type: 'joined', ref: last().ref, ...roomState('random', { head: 0 }) });
    expect(state.newBelow).toBe(0);
    expect(state.scrolledBack).toBe(false);
  });

  it('says the count of messages below the view, not each one, at most every few seconds', () => {
    const { state, last, advance, now } = setup();
    state.receive(history('general', last().ref, [], 0));
    state.seenEnd(false);
    expect(state.newBelowSaid()).toBe(null);
    state.receive(message(1));
    expect(state.newBelowSaid()).toBe('1 new message below');
    // Said already: nothing more until another arrives.
    expect(state.newBelowSaid()).toBe(null);
    state.receive(message(2));
    state.receive(message(3));
    // Too soon: main.ts asks again when it is due.
    const due = now() + NEW_BELOW_SAY_MS;
    expect(state.newBelowSaid()).toBe(due);
    advance(NEW_BELOW_SAY_MS - 1);
    expect(state.newBelowSaid()).toBe(due);
    advance(1);
    expect(state.newBelowSaid()).toBe('3 new messages below');
    // Reaching the end resets the count said: the next one is said again from one.
    state.seenEnd(true);
    state.seenEnd(false);
    advance(NEW_BELOW_SAY_MS);
    state.receive(message(4));
    expect(state.newBelowSaid()).toBe('1 new message below');
  });

  it('starts a room again from its latest page after reset', () => {
    const { state, last } = setup([general(2)]);
    state.receive(history('general', last().ref, [], 2));
    state.receive({ v: 2, type: 'reset', room: 'general', head: 5000 });
    expect(last()).toMatchObject({ type: 'history', room: 'general' });
    expect(state.rooms.get('general')).toMatchObject({ loaded: false, head: 5000 });
  });

  it('loads the open room again when the service is back, if the reload after a reset was refused as unavailable', () => {
    const { state, sent, last } = setup([general(2)]);
    state.receive(history('general', last().ref, [], 2));
    // A node noticed Redis lost events on its reader before its command connection was back.
    state.receive({ v: 2, type: 'reset', room: 'general', head: 3 });
    const reload = last();
    expect(reload).toMatchObject({ type: 'history', room: 'general' });
    state.receive({ v: 2, type: 'error', ref: reload.ref, code: 'unavailable', message: 'down' });
    expect(state.composerError).toBe('');
    state.receive(message(4));
    const before = sent.length;
    state.receive({ v: 2, type: 'service', available: false, message: 'down' });
    expect(sent).toHaveLength(before);
    state.receive({ v: 2, type: 'service', available: true, message: 'back' });
    expect(sent).toHaveLength(before + 1);
    const again = last();
    expect(again).toMatchObject({ type: 'history', room: 'general' });
    expect(again.ref).not.toBe(reload.ref);
    const msgs = [1, 2, 3, 4].map((seq) => (message(seq) as { message: ChatMessage }).message);
    state.receive(history('general', again.ref, msgs, 4));
    expect(state.rooms.get('general')).toMatchObject({ loaded: true, head: 4 });
    expect(seqs(state)).toEqual([1, 2, 3, 4]);
    // Loaded: a later `available` asks for nothing.
    state.receive({ v: 2, type: 'service', available: true, message: 'back' });
    expect(sent).toHaveLength(before + 1);
  });

  it('asks for the open room once when the service comes back while its reload is still unanswered', () => {
    const { state, sent, last } = setup([general(2)]);
    state.receive(history('general', last().ref, [], 2));
    state.receive({ v: 2, type: 'reset', room: 'general', head: 3 });
    const before = sent.length;
    state.receive({ v: 2, type: 'service', available: true, message: 'back' });
    expect(sent).toHaveLength(before);
    expect(last()).toMatchObject({ type: 'history', room: 'general' });
  });

  it('puts "new messages" before the first unread message when a room is opened, and drops it on leaving the room', () => {
    const random = roomState('random', { head: 4, unread: 2, online: ['alice'] });
    const { state, last } = setup([general(0), random]);
    state.receive(history('general', last().ref, [], 0));
    state.open('random');
    const mine = (message(3, 'alice', 'random') as { message: ChatMessage }).message;
    const msgs = [
      message(1, 'bob', 'random'),
      message(2, 'bob', 'random'),
      message(4, 'carol', 'random'),
    ].map((m) => (m as { message: ChatMessage }).message);
    state.receive(history('random', last().ref, [...msgs.slice(0, 2), mine, msgs[2]], 4));
    // Two unread by others: seq 2 and 4 (alice's own seq 3 does not count).
    expect(state.rooms.get('random')?.firstUnread).toBe(2);
    expect(state.jump).toBe(true);
    state.open('general');
    expect(state.rooms.get('random')?.firstUnread).toBeNull();
  });

  it('does not count a message arriving while the opened room loads: left before the read marker, the room comes back with its divider on the first new one', () => {
    const random = roomState('random', { head: 2, unread: 2, online: ['alice'] });
    const { state, last } = setup([general(0), random]);
    state.receive(history('general', last().ref, [], 0));
    state.open('random');
    const ref = last().ref;
    // Message 3 comes before the history that holds it (a loaded machine, conversation e2e test).
    state.receive(message(3, 'bob', 'random'));
    const msgs = [1, 2, 3].map((seq) => (message(seq, 'bob', 'random') as { message: ChatMessage }).message);
    state.receive(history('random', ref, msgs, 3));
    expect(state.rooms.get('random')?.unread).toBe(0);
    // Unread when opened: 1 and 2; 3 came with them, below the divider.
    expect(state.rooms.get('random')?.firstUnread).toBe(1);
    // Away before markRead(): only what arrives now is unread, and the divider goes above it.
    state.open('general');
    state.receive(message(4, 'bob', 'random'));
    state.receive(message(5, 'bob', 'random'));
    expect(state.rooms.get('random')?.unread).toBe(2);
    state.open('random');
    expect(state.rooms.get('random')?.firstUnread).toBe(4);
  });

  it('moves "new messages" up as older pages arrive when more are unread than the first page holds', () => {
    const random = roomState('random', { head: 120, unread: 110, online: ['alice'] });
    const { state, last } = setup([general(0), random]);
    state.receive(history('general', last().ref, [], 0));
    state.open('random');
    const page = (from: number, to: number, hasMore: boolean): ServerMessage => ({
      ...(history('random', last().ref, [], 120) as Extract<ServerMessage, { type: 'history' }>),
      messages: Array.from(
        { length: to - from + 1 },
        (_, i) => (message(from + i, 'bob', 'random') as { message: ChatMessage }).message,
      ),
      hasMore,
    });
    // Unread: 11 to 120; the first page holds 71 to 120.
    state.receive(page(71, 120, true));
    expect(state.rooms.get('random')?.firstUnread).toBe(71);
    state.loadOlder();
    state.receive(page(21, 70, true));
    expect(state.rooms.get('random')?.firstUnread).toBe(21);
    state.loadOlder();
    state.receive(page(1, 20, false));
    expect(state.rooms.get('random')?.firstUnread).toBe(11);
    // Opened again with nothing unread: the divider is gone and stays gone with older pages.
    state.open('general');
    state.open('random');
    expect(state.rooms.get('random')?.firstUnread).toBeNull();
  });

  it('asks for an older page again after a new connection lost the answer to the one asked for', () => {
    // Regression: the room kept waiting for the lost answer: loadOlder() asked nothing more (the
    // conversation scrolled up loaded no older message) and a search's jump to a hit pages back
    // waited for good.
    const { state, last } = setup([general(100)]);
    state.receive({
      ...(history('general', last().ref, [], 100) as Extract<ServerMessage, { type: 'history' }>),
      messages: Array.from({ length: 50 }, (_, i) => (message(51 + i) as { message: ChatMessage }).message),
      hasMore: true,
    });
    state.loadOlder();
    const lost = last();
    expect(lost).toMatchObject({ type: 'history', room: 'general', before: 51 });
    // The connection goes before the answer comes; a new one is welcomed (nothing missed).
    state.receive({
      v: 2,
      type: 'welcome',
      invitations: [],
      blocked: [],
      user: 'alice',
      rooms: [general(100)],
      limits: DEFAULT_LIMITS,
    });
    state.loadOlder();
    expect(last()).toMatchObject({ type: 'history', room: 'general', before: 51 });
    expect(last().ref).not.toBe(lost.ref);
  });

  it("tells the host of a refused older page (a search's jump to a hit pages back waited for it for good)", () => {
    // Regression: the refusal redrew nothing, and the jump, which goes on at each redraw of the
    // message list, waited without a word. The host is told, with the refusal as the page says it.
    const sent: ClientMessage[] = [];
    const refused: [string, string][] = [];
    const state = new ChatState({
      send: (m) => sent.push(m),
      now: () => 1000,
      olderRefused: (room, said) => {
        refused.push([room, said]);
        return false;
      },
    });
    state.receive({
      v: 2,
      type: 'welcome',
      invitations: [],
      blocked: [],
      user: 'alice',
      rooms: [general(100)],
      limits: DEFAULT_LIMITS,
    });
    const last = () => sent.at(-1) as ClientMessage & { ref: string };
    state.receive({
      ...(history('general', last().ref, [], 100) as Extract<ServerMessage, { type: 'history' }>),
      messages: Array.from({ length: 50 }, (_, i) => (message(51 + i) as { message: ChatMessage }).message),
      hasMore: true,
    });
    state.loadOlder();
    expect(last()).toMatchObject({ type: 'history', room: 'general', before: 51 });
    state.receive({
      v: 2,
      type: 'error',
      ref: last().ref,
      code: 'rate_limited',
      message: 'too many requests; retry in 3808 ms',
      retryAfterMs: 3808,
    });
    expect(refused).toEqual([['general', 'Too many requests — try again in 4 s.']]);
    // Asked again (the hit clicked again): a refusal for storage away is told too.
    const unavailable = (ref: string): ServerMessage => ({
      v: 2,
      type: 'error',
      ref,
      code: 'unavailable',
      message: 'storage unavailable',
    });
    state.loadOlder();
    expect(last()).toMatchObject({ type: 'history', room: 'general', before: 51 });
    state.receive(unavailable(last().ref));
    expect(refused.at(-1)).toEqual(['general', 'storage unavailable']);
    // A refused read marker or latest page is no older page.
    state.markRead();
    state.receive(unavailable(last().ref));
    state.open('general');
    state.receive({ v: 2, type: 'reset', room: 'general', head: 100 });
    expect(last()).toMatchObject({ type: 'history', room: 'general' });
    expect(last()).not.toHaveProperty('before');
    state.receive(unavailable(last().ref));
    expect(refused).toHaveLength(2);
  });

  /** A state whose host answers olderRefused/latestRefused with `tell` (a search jump waiting says it), recording the calls. */
  function refusals(rooms: RoomState[], tell: boolean) {
    const sent: ClientMessage[] = [];
    const told: [string, string, string][] = [];
    const state = new ChatState({
      send: (m) => sent.push(m),
      now: () => 1000,
      olderRefused: (room, said) => {
        told.push(['older', room, said]);
        return tell;
      },
      latestRefused: (room, said) => {
        told.push(['latest', room, said]);
        return tell;
      },
    });
    state.receive({
      v: 2,
      type: 'welcome',
      invitations: [],
      blocked: [],
      user: 'alice',
      rooms,
      limits: DEFAULT_LIMITS,
    });
    return { state, sent, told, last: () => sent.at(-1) as ClientMessage & { ref: string } };
  }

  /** Messages `from`..`to` of general, as a page holds them. */
  const page = (from: number, to: number): ChatMessage[] =>
    Array.from({ length: to - from + 1 }, (_, i) => (message(from + i) as { message: ChatMessage }).message);

  const rateLimited = (ref: string): ServerMessage => ({
    v: 2,
    type: 'error',
    ref,
    code: 'rate_limited',
    message: 'too many requests; retry in 3808 ms',
    retryAfterMs: 3808,
  });
  const unavailable = (ref: string): ServerMessage => ({
    v: 2,
    type: 'error',
    ref,
    code: 'unavailable',
    message: 'storage unavailable',
  });

  it("ends a reply's reveal whose older page is refused, said; the quote clicked again gets there", () => {
    // Regression: the reveal waited for good (a refusal for storage away said nothing at all), and
    // the next older page, loaded by scrolling up later, went on with it and took the view away.
    const { state, last } = refusals([general(100)], false);
    state.receive(history('general', last().ref, page(51, 100), 100, true));
    state.reveal(1);
    expect(last()).toMatchObject({ type: 'history', room: 'general', before: 51 });
    state.receive(unavailable(last().ref));
    expect(state.rooms.get('general')?.revealing).toBeNull();
    expect(state.composerError).toBe('The original message was not loaded: storage unavailable');
    // Clicked again, refused again for a rate limit: said once, as the reveal's end.
    state.reveal(1);
    expect(last()).toMatchObject({ type: 'history', room: 'general', before: 51 });
    state.receive(rateLimited(last().ref));
    expect(state.composerError).toBe(
      'The original message was not loaded: Too many requests — try again in 4 s.',
    );
    // Scrolling up later loads the page that holds it: the ended reveal does not take the view there.
    state.changes.clear();
    state.loadOlder();
    state.receive(history('general', last().ref, page(1, 50), 100));
    expect(state.revealed).toBeNull();
    expect(state.changes.has('reveal')).toBe(false);
    // The quote clicked again: shown.
    state.reveal(1);
    expect(state.revealed).toBe(1);
  });

  it("ends a reveal when its room is left: its older page showed that seq's message of the room opened", () => {
    const { state, last, sent } = refusals([general(100), roomState('random', { head: 100 })], false);
    state.receive(history('general', last().ref, page(51, 100), 100, true));
    state.reveal(1);
    const older = last();
    expect(older).toMatchObject({ type: 'history', room: 'general', before: 51 });
    state.open('random');
    state.receive(history('random', last().ref, [], 100));
    const count = sent.length;
    state.receive(history('general', older.ref, page(1, 50), 100));
    expect(state.revealed).toBeNull();
    expect(sent.length).toBe(count);
  });

  it("says a refused older page once: in the search panel when a jump waits for it, else in the composer's notice", () => {
    // Regression: a jump's rate limit was said twice, in the panel and in the composer's alert.
    for (const tell of [true, false]) {
      const { state, last, told } = refusals([general(100)], tell);
      state.receive(history('general', last().ref, page(51, 100), 100, true));
      state.loadOlder();
      state.receive(rateLimited(last().ref));
      expect(told).toEqual([['older', 'general', 'Too many requests — try again in 4 s.']]);
      expect(state.composerError).toBe(tell ? '' : 'Too many requests — try again in 4 s.');
    }
  });

  it("tells the host of a refused latest page (a search's jump to a room not loaded waited for good); opened again, asked again", () => {
    // Regression: the jump opened the room and waited for its first page, refused, without a word.
    for (const tell of [true, false]) {
      const { state, last, told } = refusals([general(0), roomState('random', { head: 100 })], tell);
      state.receive(history('general', last().ref, [], 0));
      state.open('random');
      const first = last();
      expect(first).toMatchObject({ type: 'history', room: 'random' });
      expect(first).not.toHaveProperty('before');
      expect(state.rooms.get('random')?.latestRefused).toBe(false);
      state.receive(rateLimited(first.ref));
      expect(told).toEqual([['latest', 'random', 'Too many requests — try again in 4 s.']]);
      expect(state.composerError).toBe(tell ? '' : 'Too many requests — try again in 4 s.');
      const random = state.rooms.get('random');
      expect(random?.loaded).toBe(false);
      expect(random?.latestRefused).toBe(true);
      // Opened again (the hit clicked again): asked again, and no longer refused meanwhile.
      state.open('random');
      expect(last()).toMatchObject({ type: 'history', room: 'random' });
      expect(last().ref).not.toBe(first.ref);
      expect(random?.latestRefused).toBe(false);
      state.receive(unavailable(last().ref));
      expect(told.at(-1)).toEqual(['latest', 'random', 'storage unavailable']);
      expect(random?.latestRefused).toBe(true);
    }
  });

  it('marks the first message that arrives while the tab is hidden', () => {
    const { state, last } = setup();
    state.receive(history('general', last().ref, [], 0));
    state.receive(message(1));
    expect(state.rooms.get('general')?.firstUnread).toBeNull();
    state.visible = false;
    state.receive(message(2));
    state.receive(message(3));
    expect(state.rooms.get('general')?.firstUnread).toBe(2);
  });

  it('asks to delete a room with delete_room and tells the other members when it is gone', () => {
    const plans = roomState('plans', { owner: 'bob' });
    const { state, last } = setup([general(0), plans]);
    state.deleteRoom('plans');
    expect(last()).toMatchObject({ type: 'delete_room', room: 'plans' });
    state.receive({ v: 2, type: 'left', room: 'plans', reason: 'deleted' });
    expect(state.rooms.has('plans')).toBe(false);
    expect(state.roomError).toBe('#plans was deleted by its owner');
  });

  it('the live region forgets what it said about a room once the room is gone (deleted, or absent on a resume)', () => {
    // Regression: #announce kept "bob: …" of a deleted room, a stale announcement about a room
    // that no longer exists.
    const { state } = setup([general(0), roomState('plans', { owner: 'bob' }), roomState('misc')]);
    state.announce('plans', 'bob: see you in plans');
    state.changes.clear();
    state.receive({ v: 2, type: 'left', room: 'misc', reason: 'deleted' });
    expect(state.announcement).toEqual({ room: 'plans', text: 'bob: see you in plans' });
    expect(state.changes.has('announce')).toBe(false);
    state.receive({ v: 2, type: 'left', room: 'plans', reason: 'deleted' });
    expect(state.announcement).toEqual({ room: null, text: '' });
    expect(state.changes.has('announce')).toBe(true);
    // Gone from the welcome of a resume (deleted while offline): the same.
    state.announce('general', 'bob: hi');
    state.receive({
      v: 2,
      type: 'welcome',
      invitations: [],
      blocked: [],
      user: 'alice',
      rooms: [roomState('misc')],
      limits: DEFAULT_LIMITS,
    });
    expect(state.announcement).toEqual({ room: null, text: '' });
    // What is about no room (the unsent note, about rooms already gone) stays.
    state.announce(null, '1 unsent message to #plans was dropped.');
    state.receive({ v: 2, type: 'left', room: 'misc', reason: 'deleted' });
    expect(state.announcement.text).toBe('1 unsent message to #plans was dropped.');
  });

  it('a removed member loses the room, open or not, and is told; others only see the notice', () => {
    const plans = roomState('plans', { kind: 'private', owner: 'bob', online: ['alice', 'bob'] });
    const { state, last } = setup([general(0), plans]);
    state.open('plans');
    state.receive(history('plans', last().ref, [], 0));
    // As after a leave in another tab: the member notice comes while still in the room, then `left`.
    state.receive({ v: 2, type: 'member', room: 'plans', user: 'alice', joined: false });
    state.receive({ v: 2, type: 'left', room: 'plans', reason: 'removed' });
    expect(state.rooms.has('plans')).toBe(false);
    expect(state.active).toBe('general');
    expect(state.roomError).toBe('You were removed from #plans');
    expect(state.changes.has('errors')).toBe(true);
    // A plain leave (another tab) says nothing.
    const other = setup([general(0), plans]);
    other.state.receive({ v: 2, type: 'left', room: 'plans' });
    expect(other.state.roomError).toBe('');
  });

  it('the owner of a room may remove others (not themselves); the answer clears the error', () => {
    const plans = roomState('plans', { kind: 'private', owner: 'alice', online: ['alice', 'bob'] });
    const open = roomState('open', { owner: 'alice' });
    const theirs = roomState('theirs', { kind: 'private', owner: 'bob' });
    const { state, last } = setup([general(0), plans, open, theirs]);
    expect(state.mayRemove('plans', 'bob')).toBe(true);
    expect(state.mayRemove('plans', 'alice')).toBe(false);
    // A public room of hers too (the removal bans: test/web/bans.test.ts).
    expect(state.mayRemove('open', 'bob')).toBe(true);
    expect(state.mayRemove('general', 'bob')).toBe(false);
    expect(state.mayRemove('theirs', 'carol')).toBe(false);
    expect(state.mayRemove('gone', 'bob')).toBe(false);
    state.removeMember('plans', 'bob');
    const ask = last();
    expect(ask).toEqual({ v: 2, type: 'remove', room: 'plans', user: 'bob', ref: ask.ref });
    // Refused: said where room requests are answered (not under the composer).
    state.receive({
      v: 2,
      type: 'error',
      ref: ask.ref,
      code: 'not_member',
      message: 'bob is not in room plans',
    });
    expect(state.roomError).toBe('bob is not in room plans');
    expect(state.composerError).toBe('');
    state.removeMember('plans', 'bob');
    state.receive({ v: 2, type: 'removed', ref: last().ref, room: 'plans', user: 'bob' });
    expect(state.roomError).toBe('');
    state.receive({ v: 2, type: 'member', room: 'plans', user: 'bob', joined: false });
    expect(state.rooms.get('plans')?.online).toEqual(new Set(['alice']));
  });

  it('inviting a member or oneself says so where room requests are answered (already_member)', () => {
    const plans = roomState('plans', { kind: 'private', owner: 'alice', online: ['alice', 'bob'] });
    const { state, last } = setup([general(0), plans]);
    const refuse = (ref: string, message: string) =>
      state.receive({ v: 2, type: 'error', ref, code: 'already_member', message });
    state.invite('plans', 'bob');
    refuse(last().ref, 'bob is already in room plans');
    expect(state.roomError).toBe('bob is already in #plans.');
    state.invite('plans', 'Alice');
    refuse(last().ref, 'you are already in room plans');
    expect(state.roomError).toBe('You are already in #plans.');
    expect(state.composerError).toBe('');
    expect(state.roomDone).toBe('');
    // A real invitation clears what was said, and is confirmed there in the page's words.
    state.invite('plans', 'carol');
    state.receive({ v: 2, type: 'invited', ref: last().ref, room: 'plans', user: 'carol' });
    expect(state.roomError).toBe('');
    expect(state.roomDone).toBe('Invited carol to #plans; waiting for them to accept.');
  });

  it("keeps the user's pending invitations: welcome, live ones, accepted (the room opens), declined, gone elsewhere", () => {
    const sent: ClientMessage[] = [];
    const told: string[] = [];
    const state = new ChatState({
      send: (m) => sent.push(m),
      now: () => 0,
      invited: (i) => told.push(i.room),
    });
    const ts = 5;
    state.receive({
      v: 2,
      type: 'welcome',
      user: 'bob',
      rooms: [general()],
      invitations: [{ room: 'plans', by: 'alice', ts }],
      blocked: [],
      limits: DEFAULT_LIMITS,
    });
    expect([...state.invitations.keys()]).toEqual(['plans']);
    expect(told).toEqual([]); // the welcome's are not news
    state.changes.clear();
    state.receive({ v: 2, type: 'invitation', room: 'trip', by: 'alice', ts });
    expect([...state.invitations.keys()]).toEqual(['plans', 'trip']);
    expect(told).toEqual(['trip']);
    expect(state.changes.has('invitations')).toBe(true);
    // Accepted: the joined answer opens the room and spends the invitation.
    state.accept('plans');
    const accept = sent.at(-1) as ClientMessage & { ref: string };
    expect(accept).toMatchObject({ type: 'accept', room: 'plans' });
    state.receive({
      v: 2,
      type: 'joined',
      ref: accept.ref,
      ...roomState('plans', { kind: 'private', owner: 'alice', online: ['alice', 'bob'] }),
    });
    expect(state.active).toBe('plans');
    expect([...state.invitations.keys()]).toEqual(['trip']);
    // Declined: gone with the answer.
    state.decline('trip');
    const decline = sent.at(-1) as ClientMessage & { ref: string };
    state.receive({ v: 2, type: 'uninvited', ref: decline.ref, room: 'trip' });
    expect(state.invitations.size).toBe(0);
    // Gone elsewhere (taken back, accepted in another tab), or found gone on accepting.
    state.receive({ v: 2, type: 'invitation', room: 'side', by: 'carol', ts });
    state.receive({ v: 2, type: 'uninvited', room: 'side' });
    expect(state.invitations.size).toBe(0);
    state.receive({ v: 2, type: 'invitation', room: 'old', by: 'carol', ts });
    state.accept('old');
    const late = sent.at(-1) as ClientMessage & { ref: string };
    state.receive({
      v: 2,
      type: 'error',
      ref: late.ref,
      code: 'no_such_room',
      message: 'you have no invitation to room old',
    });
    expect(state.invitations.size).toBe(0);
    expect(state.roomError).toBe('you have no invitation to room old');
  });

  it('confirms an invitation until the next room request is answered; an error is shown over it', () => {
    const plans = roomState('plans', { kind: 'private', owner: 'alice', online: ['alice'] });
    const { state, last } = setup([general(0), plans]);
    state.invite('plans', 'dora');
    state.receive({ v: 2, type: 'invited', ref: last().ref, room: 'plans', user: 'dora' });
    expect(state.roomDone).toBe('Invited dora to #plans; waiting for them to accept.');
    // A removal shows itself (the name goes, "left" in the conversation): nothing stays said.
    state.removeMember('plans', 'dora');
    state.receive({ v: 2, type: 'removed', ref: last().ref, room: 'plans', user: 'dora' });
    expect(state.roomDone).toBe('');
    state.invite('plans', 'dora');
    state.receive({ v: 2, type: 'invited', ref: last().ref, room: 'plans', user: 'dora' });
    state.joinOrCreate('random');
    state.receive({ v: 2, type: 'joined', ref: last().ref, ...roomState('random', { head: 0 }) });
    expect(state.roomDone).toBe('');
    expect(state.roomError).toBe('');
  });

  it("drops the invitation's confirmation once the user goes on in the conversation; an error stays", () => {
    // Seen on a phone: "Invited bo… waiting for them to accept" stayed above the composer through
    // every later send, reaction, edit and delete.
    const plans = roomState('plans', { kind: 'private', owner: 'alice', online: ['alice'], head: 1 });
    const { state, last } = setup([plans]);
    state.receive(
      history('plans', last().ref, [(message(1, 'bob', 'plans') as { message: ChatMessage }).message], 1),
    );
    const invite = () => {
      state.invite('plans', 'dora');
      state.receive({ v: 2, type: 'invited', ref: last().ref, room: 'plans', user: 'dora' });
      expect(state.roomDone).toBe('Invited dora to #plans; waiting for them to accept.');
      state.changes.clear();
    };
    invite();
    // Another's message: still said.
    state.receive(message(2, 'bob', 'plans'));
    expect(state.roomDone).not.toBe('');
    // Their own message (sent from this tab or another): read, gone.
    state.receive(message(3, 'alice', 'plans'));
    expect(state.rooms.get('plans')?.head).toBe(3);
    expect(state.roomDone).toBe('');
    expect(state.changes.has('errors')).toBe(true);
    for (const act of [
      () => state.react('plans', 2, '👍', true),
      () => state.edit('plans', 3, 'yo!'),
      () => state.remove('plans', 3),
    ]) {
      invite();
      act();
      expect(state.roomDone).toBe('');
      expect(state.changes.has('errors')).toBe(true);
    }
    // A refusal is still to act on: a message of one's own leaves it.
    state.invite('plans', 'alice');
    state.receive({
      v: 2,
      type: 'error',
      ref: last().ref,
      code: 'already_member',
      message: 'you are already in room plans',
    });
    state.receive(message(4, 'alice', 'plans'));
    expect(state.roomError).toBe('You are already in #plans.');
  });

  it("drops the invitation's confirmation when another room is opened (it read as news of that room)", () => {
    // Seen as a user: "Invited bob to #plans." stayed under the rooms while a direct message was
    // read, until some other room request was answered.
    const plans = roomState('plans', { kind: 'private', owner: 'alice', online: ['alice'] });
    const { state, last } = setup([general(0), plans]);
    state.open('plans');
    state.invite('plans', 'dora');
    state.receive({ v: 2, type: 'invited', ref: last().ref, room: 'plans', user: 'dora' });
    expect(state.roomDone).toBe('Invited dora to #plans; waiting for them to accept.');
    state.changes.clear();
    // The same room again (a click on it in the list) keeps it.
    state.open('plans');
    expect(state.roomDone).toBe('Invited dora to #plans; waiting for them to accept.');
    state.open('general');
    expect(state.roomDone).toBe('');
    expect(state.changes.has('errors')).toBe(true);
    // An error is a refusal still to act on: it stays.
    state.open('plans');
    state.invite('plans', 'alice');
    state.receive({ v: 2, type: 'error', ref: last().ref, code: 'already_member', message: 'x' });
    state.open('general');
    expect(state.roomError).toBe('You are already in #plans.');
  });

  it("a private room's members load page after page, with the member notices heard meanwhile", () => {
    const plans = roomState('plans', { kind: 'private', owner: 'alice', online: ['alice'] });
    const { state, sent } = setup([general(0), plans]);
    const asked = () => sent.filter((m) => m.type === 'members') as (ClientMessage & { ref: string })[];
    expect(asked()).toEqual([]);
    state.open('plans');
    expect(asked()).toEqual([{ v: 2, type: 'members', room: 'plans', ref: expect.any(String) }]);
    // Opened again while on its way: not asked twice.
    state.open('general');
    state.open('plans');
    expect(asked()).toHaveLength(1);
    // Notices that reach the page before the pages that may or may not count them.
    state.receive({ v: 2, type: 'member', room: 'plans', user: 'carol', joined: true });
    state.receive({ v: 2, type: 'member', room: 'plans', user: 'dora', joined: false });
    state.receive({
      v: 2,
      type: 'members',
      ref: asked()[0].ref,
      room: 'plans',
      members: ['alice', 'bob'],
      next: 'bob',
    });
    expect(state.rooms.get('plans')?.members).toBeNull();
    expect(asked()[1]).toEqual({
      v: 2,
      type: 'members',
      room: 'plans',
      after: 'bob',
      ref: expect.any(String),
    });
    state.changes.clear();
    state.receive({ v: 2, type: 'members', ref: asked()[1].ref, room: 'plans', members: ['dora'] });
    expect(state.rooms.get('plans')?.members).toEqual(new Set(['alice', 'bob', 'carol']));
    expect(state.changes.has('online')).toBe(true);
    // Then kept current by the notices, and a stale answer changes nothing.
    state.receive({ v: 2, type: 'member', room: 'plans', user: 'bob', joined: false });
    state.receive({ v: 2, type: 'member', room: 'plans', user: 'erin', joined: true });
    state.receive({ v: 2, type: 'members', ref: asked()[0].ref, room: 'plans', members: ['zed'] });
    expect(state.rooms.get('plans')?.members).toEqual(new Set(['alice', 'carol', 'erin']));
    expect(asked()).toHaveLength(2);
  });

  it("labels a direct message with its user's name as they signed up, once the server gives it", () => {
    const dm = roomState('dm:alice:pbq7', { kind: 'dm', online: ['alice'] });
    const { state, last } = setup([general(0), dm]);
    const label = () => state.label({ name: 'dm:alice:pbq7', kind: 'dm' });
    // Nothing from the server names them yet: the room name's lower case.
    expect(label()).toBe('@pbq7');
    // What alice types is no source: the server matches any case.
    state.startDm('PBQ7');
    state.receive({ v: 2, type: 'joined', ref: last().ref, ...dm });
    expect(label()).toBe('@pbq7');
    // Their presence in another room gives the name as they signed up; the room list and header
    // are redrawn for it (a presence notice changes nothing else of the room list).
    state.changes.clear();
    state.receive({ v: 2, type: 'presence', room: 'general', user: 'PbQ7', online: true });
    expect(label()).toBe('@PbQ7');
    expect(state.changes.has('rooms')).toBe(true);
    state.changes.clear();
    state.receive({ v: 2, type: 'presence', room: 'general', user: 'PbQ7', online: false });
    expect(state.changes.has('rooms')).toBe(false);
    // A message's author too.
    const other = setup([general(0), dm]);
    other.state.receive(message(1, 'pBq7'));
    expect(other.state.label({ name: 'dm:alice:pbq7', kind: 'dm' })).toBe('@pBq7');
    // Presence and member notices give it too (here in the direct message itself, with its notice).
    const fresh = setup([general(0), roomState('dm:alice:zed', { kind: 'dm', online: ['alice'] })]);
    fresh.state.open('dm:alice:zed');
    fresh.state.receive({ v: 2, type: 'member', room: 'dm:alice:zed', user: 'ZeD', joined: true });
    expect(fresh.state.label({ name: 'dm:alice:zed', kind: 'dm' })).toBe('@ZeD');
    expect(fresh.state.rooms.get('dm:alice:zed')?.notices.map((n) => n.text)).toContain('ZeD joined @ZeD');
  });

  it('asks for members in private rooms only, again on a new connection, and says nothing if refused', () => {
    const plans = roomState('plans', { kind: 'private', owner: 'bob', online: ['alice', 'bob'] });
    const other = roomState('other', { kind: 'private', owner: 'bob', online: ['alice'] });
    const dm = roomState('dm:alice:bob', { kind: 'dm', online: ['alice'] });
    const { state, sent } = setup([general(0), plans, other, dm]);
    const asked = () => sent.filter((m) => m.type === 'members') as (ClientMessage & { ref: string })[];
    state.open('dm:alice:bob');
    state.open('general');
    expect(asked()).toEqual([]);
    state.open('other');
    state.receive({ v: 2, type: 'members', ref: asked()[0].ref, room: 'other', members: ['alice', 'bob'] });
    state.open('plans');
    state.receive({
      v: 2,
      type: 'error',
      ref: asked()[1].ref,
      code: 'rate_limited',
      message: 'too many requests; retry in 50 ms',
      retryAfterMs: 50,
    });
    expect(state.composerError).toBe('');
    expect(state.roomError).toBe('');
    expect(state.rooms.get('plans')?.members).toBeNull();
    // Opened again: asked again.
    state.open('general');
    state.open('plans');
    expect(asked()).toHaveLength(3);
    state.receive({
      v: 2,
      type: 'members',
      ref: asked()[2].ref,
      room: 'plans',
      members: ['alice', 'bob', 'carol'],
    });
    // A new connection: the open room's list is asked for again and shown as it was meanwhile; the
    // other room's is dropped until it is opened.
    state.receive({
      v: 2,
      type: 'welcome',
      invitations: [],
      blocked: [],
      user: 'alice',
      rooms: [general(0), plans, other],
      limits: DEFAULT_LIMITS,
    });
    expect(asked()).toHaveLength(4);
    expect(asked()[3]).toMatchObject({ room: 'plans' });
    expect(state.rooms.get('plans')?.members).toEqual(new Set(['alice', 'bob', 'carol']));
    expect(state.rooms.get('other')?.members).toBeNull();
    state.receive({ v: 2, type: 'members', ref: asked()[3].ref, room: 'plans', members: ['alice', 'bob'] });
    expect(state.rooms.get('plans')?.members).toEqual(new Set(['alice', 'bob']));
  });

  it('applies reactions to the message they target, without counting them as unread', () => {
    const { state, last } = setup();
    state.receive(history('general', last().ref, [], 0));
    state.receive(message(1));
    state.visible = false;
    state.receive(react(2, 'bob', '👍', true));
    state.receive(react(3, 'carol', '👍', true));
    state.receive(react(4, 'bob', '🎉', true));
    state.receive(react(5, 'bob', '🎉', false));
    expect(state.rooms.get('general')?.messages.get(1)?.reactions).toEqual({ '👍': ['bob', 'carol'] });
    expect(state.rooms.get('general')?.unread).toBe(0);
    expect(state.rooms.get('general')?.head).toBe(5);
    state.react('general', 1, '👍', true);
    expect(last()).toMatchObject({ type: 'react', room: 'general', target: 1, emoji: '👍', on: true });
  });

  it('keeps reply quotes current: the edited text, or "deleted" without the old text', () => {
    const { state, last } = setup();
    state.receive(history('general', last().ref, [], 0));
    state.receive(message(1));
    const reply: ServerMessage = {
      v: 2,
      type: 'message',
      message: {
        room: 'general',
        seq: 2,
        id: 'r',
        user: 'alice',
        text: 'yes',
        ts: 2,
        reply: { seq: 1, user: 'bob', text: 'text 1' },
      },
    };
    state.receive(reply);
    state.receive({
      v: 2,
      type: 'edited',
      room: 'general',
      seq: 3,
      target: 1,
      user: 'bob',
      text: 'x'.repeat(300),
      ts: 3,
    });
    const quote = () => state.rooms.get('general')?.messages.get(2)?.reply;
    expect(quote()).toEqual({ seq: 1, user: 'bob', text: 'x'.repeat(200) });
    state.receive({ v: 2, type: 'deleted', room: 'general', seq: 4, target: 1, user: 'bob', ts: 4 });
    expect(quote()).toEqual({ seq: 1, user: 'bob', text: '', deleted: true });
  });

  it('keeps of a deleted message only what a reload shows: no quote, mentions, files or reactions', () => {
    const { state, last } = setup();
    state.receive(history('general', last().ref, [], 0));
    state.receive(message(1));
    state.receive({
      v: 2,
      type: 'message',
      message: {
        room: 'general',
        seq: 2,
        id: 'r',
        user: 'bob',
        text: 'yes @alice',
        ts: 2,
        reply: { seq: 1, user: 'bob', text: 'text 1' },
        mentions: ['alice'],
        attachments: [{ id: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'a.txt', type: 'text/plain', size: 1 }],
      },
    });
    state.receive({ v: 2, type: 'deleted', room: 'general', seq: 3, target: 2, user: 'bob', ts: 3 });
    // The server's history (and a replay) of a deleted message: nothing derived from its text.
    expect(state.rooms.get('general')?.messages.get(2)).toEqual({
      room: 'general',
      seq: 2,
      id: 'r',
      user: 'bob',
      text: '',
      ts: 2,
      deleted: true,
    });
  });

  it('counts mentions of the user apart from unread, and tells the host about each live one', () => {
    const mentioned: number[] = [];
    const random: RoomState = roomState('random');
    const state = new ChatState({ send: () => {}, now: () => 0, mentioned: (m) => mentioned.push(m.seq) });
    state.receive({
      v: 2,
      type: 'welcome',
      invitations: [],
      blocked: [],
      user: 'alice',
      rooms: [general(), random],
      limits: DEFAULT_LIMITS,
    });
    const say = (seq: number, mentions?: string[]) => bobSays('random', seq, mentions);
    state.receive(say(1, ['Alice']));
    state.receive(say(2));
    state.receive(say(3, ['carol']));
    const room = state.rooms.get('random');
    expect([room?.unread, room?.mentions]).toEqual([3, 1]);
    expect(mentioned).toEqual([1]);
    state.open('random');
    expect(room?.mentions).toBe(0);
  });
  it('tells the host about each live message of a direct message too, as a mention (the bell missed them)', () => {
    // Seen as a user: with the bell on and the tab hidden, "hi alice" in a direct message raised
    // no notification (only @mentions did), where every chat tells of a message written to you alone.
    const told: string[] = [];
    const dm = roomState('dm:alice:bob', { kind: 'dm', online: ['alice'] });
    const sent: (ClientMessage & { ref?: string })[] = [];
    const state = new ChatState({
      send: (m) => sent.push(m),
      now: () => 0,
      mentioned: (m) => told.push(`${m.room} ${m.seq}`),
    });
    state.receive({
      v: 2,
      type: 'welcome',
      invitations: [],
      blocked: [],
      user: 'alice',
      rooms: [general(), dm],
      limits: DEFAULT_LIMITS,
    });
    // Not open (counted unread), then open and loaded (applied as it comes).
    state.receive(bobSays('dm:alice:bob', 1));
    state.receive(bobSays('general', 1));
    state.open('dm:alice:bob');
    const asked = sent.findLast((m) => m.type === 'history');
    state.receive(history('dm:alice:bob', asked?.ref ?? '', [], 1));
    expect(state.rooms.get('dm:alice:bob')?.loaded).toBe(true);
    state.receive(bobSays('dm:alice:bob', 2));
    // Her own message in it (another tab of hers) is not news to her.
    state.receive({
      v: 2,
      type: 'message',
      message: { room: 'dm:alice:bob', seq: 3, id: 'a3', user: 'alice', text: 'hi', ts: 3 },
    });
    expect(told).toEqual(['dm:alice:bob 1', 'dm:alice:bob 2']);
  });

  it('lowers unread and mentions when the user read a room in another tab; later messages still count', () => {
    // random: 2 unread (1 mention) up to its head 4 at the welcome, then 5 (a mention), 6, 7 live.
    const random = roomState('random', { head: 4, unread: 2, mentions: 1 });
    const { state } = setup([general(), random]);
    const say = (seq: number, mentions?: string[]) => bobSays('random', seq, mentions);
    state.receive(say(5, ['alice']));
    state.receive(say(6));
    state.receive(say(7, ['alice']));
    const room = state.rooms.get('random');
    expect([room?.unread, room?.mentions, state.unreadElsewhere]).toEqual([5, 3, 5]);
    state.changes.clear();
    // Read up to 5 elsewhere: the welcome's count (up to 4) and 5 are read; 6 and 7 are not.
    state.receive({ v: 2, type: 'read', room: 'random', seq: 5 });
    expect([room?.unread, room?.mentions, state.unreadElsewhere]).toEqual([2, 1, 2]);
    expect(state.changes.has('rooms')).toBe(true);
    // A message after the read position counts, as ever.
    state.receive(say(8));
    expect([room?.unread, room?.mentions]).toEqual([3, 1]);
    state.receive({ v: 2, type: 'read', room: 'random', seq: 8 });
    expect([room?.unread, room?.mentions, state.unreadElsewhere]).toEqual([0, 0, 0]);
    // This tab's own read answer (with its ref) and a room the page does not have change nothing.
    state.receive(say(9));
    state.receive({ v: 2, type: 'read', ref: 'read99', room: 'random', seq: 9 });
    state.receive({ v: 2, type: 'read', room: 'elsewhere', seq: 9 });
    expect(room?.unread).toBe(1);
  });

  it('does not count a message that arrives after a read in another tab that passed it', () => {
    // Regression: a node that lost Redis for a moment delivers the messages it missed once it is
    // back, and may tell the marker read in another tab (made up from the store) before they come:
    // each was counted as it arrived, and the badge said 3 where the user had read everything.
    const random = roomState('random', { head: 4, unread: 0 });
    const { state } = setup([general(), random]);
    const say = (seq: number, mentions?: string[]) => bobSays('random', seq, mentions);
    state.receive({ v: 2, type: 'read', room: 'random', seq: 7 });
    state.receive(say(5, ['alice']));
    state.receive(say(6));
    state.receive(say(7));
    const room = state.rooms.get('random');
    expect([room?.unread, room?.mentions, state.unreadElsewhere]).toEqual([0, 0, 0]);
    // The next one counts, as ever.
    state.receive(say(8, ['alice']));
    expect([room?.unread, room?.mentions]).toEqual([1, 1]);
  });

  it('counts once, on a resume, the messages missed in a room opened before and not shown: the welcome has them', () => {
    // Regression: random, opened earlier (its history loaded), is named in the hello; the welcome
    // counts the two messages bob wrote meanwhile (one mentions alice), and their replay that
    // follows counted them again: 4 unread, 2 mentions.
    const { state, last } = setup([general(), roomState('random')]);
    state.receive(history('general', last().ref, [], 0));
    state.open('random');
    state.receive(history('random', last().ref, [], 0));
    state.open('general');
    state.receive({
      v: 2,
      type: 'welcome',
      invitations: [],
      blocked: [],
      user: 'alice',
      rooms: [general(), roomState('random', { head: 2, unread: 2, mentions: 1 })],
      limits: DEFAULT_LIMITS,
    });
    state.receive(bobSays('random', 1, ['alice']));
    state.receive(bobSays('random', 2));
    state.receive({ v: 2, type: 'synced', room: 'random', head: 2 });
    const room = state.rooms.get('random');
    expect([room?.unread, room?.mentions, state.unreadElsewhere]).toEqual([2, 1, 2]);
    expect(seqs(state, 'random')).toEqual([1, 2]);
    // A live one after the replay counts, and a read elsewhere up to it clears them all.
    state.receive(bobSays('random', 3, ['alice']));
    expect([room?.unread, room?.mentions]).toEqual([3, 2]);
    state.receive({ v: 2, type: 'read', room: 'random', seq: 3 });
    expect([room?.unread, room?.mentions]).toEqual([0, 0]);
  });

  it('uncounts an unread message deleted, and follows an edit that adds or takes away a mention, as the server counts', () => {
    // Regression: a mention deleted (or edited away) kept its badge until a reload, when the
    // server's count (deleted messages and current mentions) took it away. random is not loaded,
    // general is loaded and not shown.
    const { state, last } = setup([general(), roomState('random'), roomState('other')]);
    state.receive(history('general', last().ref, [], 0));
    state.open('other');
    state.receive(history('other', last().ref, [], 0));
    for (const name of ['random', 'general']) {
      state.receive(bobSays(name, 1, ['alice']));
      state.receive(bobSays(name, 2));
      state.receive(bobSays(name, 3, ['alice']));
      const room = state.rooms.get(name);
      expect([room?.unread, room?.mentions]).toEqual([3, 2]);
      state.changes.clear();
      state.receive({ v: 2, type: 'deleted', room: name, seq: 4, target: 1, user: 'bob', ts: 4 });
      expect([room?.unread, room?.mentions]).toEqual([2, 1]);
      expect(state.changes.has('rooms')).toBe(true);
      const edit = (seq: number, target: number, mentions?: string[]): ServerMessage => ({
        v: 2,
        type: 'edited',
        room: name,
        seq,
        target,
        user: 'bob',
        text: 'changed',
        ts: seq,
        ...(mentions ? { mentions } : {}),
      });
      state.receive(edit(5, 2, ['alice']));
      expect([room?.unread, room?.mentions]).toEqual([2, 2]);
      state.receive(edit(6, 3));
      expect([room?.unread, room?.mentions]).toEqual([2, 1]);
      // Read elsewhere up to the head: nothing left.
      state.receive({ v: 2, type: 'read', room: name, seq: 6 });
      expect([room?.unread, room?.mentions]).toEqual([0, 0]);
    }
    expect(state.unreadElsewhere).toBe(0);
  });

  it('keeps the count the server gave for messages a read elsewhere may not have reached', () => {
    // Up to head 4 the page knows a count (2), not which messages: a read of 3 may leave both unread.
    const { state } = setup([general(), roomState('random', { head: 4, unread: 2 })]);
    state.receive(message(5, 'bob', 'random'));
    state.receive({ v: 2, type: 'read', room: 'random', seq: 3 });
    expect(state.rooms.get('random')?.unread).toBe(3);
    state.receive({ v: 2, type: 'read', room: 'random', seq: 4 });
    expect(state.rooms.get('random')?.unread).toBe(1);
  });

  it('clears the shown room counted while the tab was hidden when it is read in another tab', () => {
    const { state, last } = setup([general()]);
    state.receive(history('general', last().ref, [], 0));
    state.visible = false;
    state.receive(message(1));
    state.receive(message(2));
    expect(state.rooms.get('general')?.unread).toBe(2);
    state.receive({ v: 2, type: 'read', room: 'general', seq: 2 });
    expect(state.rooms.get('general')?.unread).toBe(0);
  });

  it('tells whether a reply being written can still go: its target deleted live, on a resume, or its room gone', () => {
    const { state, last } = setup([general(1), roomState('random', { head: 0 })]);
    state.receive(history('general', last().ref, [(message(1) as { message: ChatMessage }).message], 1));
    state.receive(message(2));
    expect(state.replyTarget('general', 1)).toBe('ok');
    expect(state.replyTarget('general', 99)).toBe('ok'); // not loaded: not known to be deleted
    // Live.
    state.receive({ v: 2, type: 'deleted', room: 'general', seq: 3, target: 1, user: 'bob', ts: 3 });
    expect(state.replyTarget('general', 1)).toBe('deleted');
    // A resume: the welcome, then the replay of what was missed.
    state.receive({
      v: 2,
      type: 'welcome',
      invitations: [],
      blocked: [],
      user: 'alice',
      rooms: [general(4)],
      limits: DEFAULT_LIMITS,
    });
    expect(state.replyTarget('general', 2)).toBe('ok');
    state.receive({ v: 2, type: 'deleted', room: 'general', seq: 4, target: 2, user: 'bob', ts: 4 });
    expect(state.replyTarget('general', 2)).toBe('deleted');
    // Too far behind to replay: the room's latest page shows it deleted.
    state.receive(message(5));
    expect(state.replyTarget('general', 5)).toBe('ok');
    state.receive({ v: 2, type: 'reset', room: 'general', head: 2000 });
    expect(state.replyTarget('general', 5)).toBe('ok');
    const deleted: ChatMessage = {
      room: 'general',
      seq: 5,
      id: 'id5',
      user: 'bob',
      text: '',
      ts: 5,
      deleted: true,
    };
    state.receive(history('general', last().ref, [deleted], 2000));
    expect(state.replyTarget('general', 5)).toBe('deleted');
    // The room left (random was dropped by the welcome above).
    expect(state.replyTarget('random', 1)).toBe('gone');
  });
});

describe('the edit being written', () => {
  it('is known refused once its message is deleted: live, on a resume, or after a reset; or its room gone', () => {
    const { state, last } = setup([general(), roomState('random')]);
    state.receive(history('general', last().ref, [mine(1), mine(2)], 2));
    expect(state.editTarget('general', 1)).toBe('ok');
    expect(state.editTarget('general', 99)).toBe('ok'); // not loaded: not known to be deleted
    // Live (deleted in another tab of the user's).
    state.receive({ v: 2, type: 'deleted', room: 'general', seq: 3, target: 1, user: 'alice', ts: 3 });
    expect(state.editTarget('general', 1)).toBe('deleted');
    expect(state.editTarget('general', 2)).toBe('ok');
    // A resume: the welcome, then the replay of what was missed.
    state.receive({
      v: 2,
      type: 'welcome',
      invitations: [],
      blocked: [],
      user: 'alice',
      rooms: [general(4)],
      limits: DEFAULT_LIMITS,
    });
    expect(state.editTarget('general', 2)).toBe('ok');
    state.receive({ v: 2, type: 'deleted', room: 'general', seq: 4, target: 2, user: 'alice', ts: 4 });
    expect(state.editTarget('general', 2)).toBe('deleted');
    // Too far behind to replay: unknown until the latest page shows it deleted.
    state.receive(message(5, 'alice'));
    state.receive({ v: 2, type: 'reset', room: 'general', head: 2000 });
    expect(state.editTarget('general', 5)).toBe('ok');
    state.receive(history('general', last().ref, [{ ...mine(5), text: '', deleted: true }], 2000));
    expect(state.editTarget('general', 5)).toBe('deleted');
    // Its room gone (random was dropped by the welcome above).
    expect(state.editTarget('random', 1)).toBe('gone');
  });
});

describe('a notice that an action was not done offline', () => {
  const welcome = (): ServerMessage => ({
    v: 2,
    type: 'welcome',
    invitations: [],
    blocked: [],
    user: 'alice',
    rooms: [general()],
    limits: DEFAULT_LIMITS,
  });
  const offline = 'Offline — the room was not deleted: try again once the chat is back online.';

  it('goes once the chat is back online (the welcome), said as changed', () => {
    // Regression: "Offline — ...: try again once the chat is back online" stayed under the
    // composer after the page reconnected, saying it was offline while the bar said Online.
    const { state } = setup();
    state.offlineNotice(offline);
    expect(state.composerError).toBe(offline);
    state.changes.clear();
    state.receive(welcome());
    expect(state.composerError).toBe('');
    expect(state.changes.has('errors')).toBe(true);
  });

  it('leaves a notice that replaced it, and goes only once', () => {
    const { state } = setup();
    state.offlineNotice(offline);
    state.composerError = 'Wait for the uploads to finish.';
    state.receive(welcome());
    expect(state.composerError).toBe('Wait for the uploads to finish.');
    // The same words set again by anything but offlineNotice: not taken for the offline one.
    state.composerError = offline;
    state.receive(welcome());
    expect(state.composerError).toBe(offline);
  });
});

function mine(seq: number): ChatMessage {
  return { room: 'general', seq, id: `id${seq}`, user: 'alice', text: `mine ${seq}`, ts: seq };
}

describe('closing a direct message', () => {
  const dm = () => roomState('dm:alice:bob', { kind: 'dm', online: ['alice', 'bob'] });

  it('tells the other what a close means, and the one who closed it that it is closed', () => {
    const { state, last } = setup([general(), dm()]);
    state.open('dm:alice:bob');
    // bob's view is alike: alice's close is the notice in bob's conversation.
    state.receive({ v: 2, type: 'member', room: 'dm:alice:bob', user: 'bob', joined: false });
    expect(state.rooms.get('dm:alice:bob')?.notices.map((n) => n.text)).toEqual([
      'bob closed this conversation: a new message opens it again for them',
    ]);
    state.leave('dm:alice:bob');
    state.receive({ v: 2, type: 'left', ref: last().ref, room: 'dm:alice:bob' });
    expect(state.rooms.has('dm:alice:bob')).toBe(false);
    expect(state.active).toBe('general');
    expect(state.roomDone).toBe('Closed the conversation with bob.');
    // A room is left, as before: "bob left #plans", and a leave answered by no words.
    state.receive({ v: 2, type: 'joined', ...roomState('plans') });
    state.open('plans');
    state.receive({ v: 2, type: 'member', room: 'plans', user: 'bob', joined: false });
    expect(state.rooms.get('plans')?.notices.map((n) => n.text)).toEqual(['bob left #plans']);
    state.leave('plans');
    state.receive({ v: 2, type: 'left', ref: last().ref, room: 'plans' });
    expect(state.roomDone).toBe('');
  });
});

describe("a room's messages: in seq order, replaced when they change (the conversation keeps a row by its object)", () => {
  const said = (seq: number, fields: Partial<ChatMessage> = {}): ChatMessage => ({
    ...(message(seq) as { message: ChatMessage }).message,
    ...fields,
  });

  it('iterates them in seq order after an older page, a page out of order and live messages', () => {
    const map = new Map<number, ChatMessage>();
    putInOrder(map, [said(5), said(6)]);
    putInOrder(map, [said(7)]);
    expect([...map.keys()]).toEqual([5, 6, 7]);
    // An older page, itself newest first: before them all.
    putInOrder(map, [said(4), said(2), said(3)]);
    expect([...map.keys()]).toEqual([2, 3, 4, 5, 6, 7]);
    // One between (a gap filled), and one it has (its object replaced, its place kept).
    const six = said(6, { text: 'again' });
    putInOrder(map, [said(1), six, said(8)]);
    expect([...map.keys()]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(map.get(6)).toBe(six);
  });

  it('loads older pages and live messages in seq order in the state', () => {
    const { state, last } = setup([general(3)]);
    state.receive(history('general', last().ref, [said(2), said(3)], 3, true));
    state.receive(message(4));
    state.loadOlder();
    state.receive(history('general', last().ref, [said(1)], 4, false));
    state.receive(message(5));
    expect(seqs(state)).toEqual([1, 2, 3, 4, 5]);
  });

  it('puts a new object in place of a message edited, reacted to, deleted or whose original changed', () => {
    const { state, last } = setup([general(3)]);
    const reply = said(3, { reply: { seq: 1, user: 'bob', text: 'text 1' } });
    state.receive(history('general', last().ref, [said(1), said(2), reply], 3));
    const messages = state.rooms.get('general')?.messages as Map<number, ChatMessage>;
    const [one, two] = [messages.get(1), messages.get(2)];
    const copies = [structuredClone(one), structuredClone(two), structuredClone(reply)];
    state.receive(react(4, 'carol', '👍', true));
    expect(messages.get(1)).not.toBe(one);
    expect(messages.get(1)?.reactions).toEqual({ '👍': ['carol'] });
    const reacted = messages.get(1);
    state.receive({
      v: 2,
      type: 'edited',
      room: 'general',
      seq: 5,
      target: 1,
      user: 'bob',
      text: 'new',
      ts: 5,
    });
    expect(messages.get(1)).not.toBe(reacted);
    expect(messages.get(1)).toMatchObject({ text: 'new', editedAt: 5, reactions: { '👍': ['carol'] } });
    expect(messages.get(3)).not.toBe(reply);
    expect(messages.get(3)?.reply).toEqual({ seq: 1, user: 'bob', text: 'new' });
    state.receive({ v: 2, type: 'deleted', room: 'general', seq: 6, target: 2, user: 'bob', ts: 6 });
    expect(messages.get(2)).not.toBe(two);
    expect(messages.get(2)).toMatchObject({ deleted: true, text: '' });
    // The objects put in first are as they came (a row drawn from them stays true to them).
    expect([one, two, reply]).toEqual(copies);
    expect(seqs(state)).toEqual([1, 2, 3]);
  });
});
