// @vitest-environment happy-dom
/**
 * Blocking on the page (room-state.ts `blocked`, conversation.ts blockedItem, render.ts the people
 * list), in a DOM without a browser: a blocked user's messages in a shared room are drawn collapsed
 * as text until shown one by one, their typing is not shown, and their mentions raise no
 * notification and no mention badge. The others' are untouched.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  type ChatMessage,
  type ClientMessage,
  DEFAULT_LIMITS,
  type ServerMessage,
} from '../../src/shared/protocol.js';
import { type MessageActions, renderMessages } from '../../src/web/conversation.js';
import type { Outbox } from '../../src/web/outbox.js';
import { ChatState } from '../../src/web/room-state.js';

const PAGE = `
  <div id="messages">
    <button id="load-older" type="button" hidden>Load older messages</button>
    <ol id="message-list" aria-label="Messages"></ol>
  </div>
  <button id="jump-latest" type="button" hidden><span id="jump-count"></span>Jump to latest</button>
  <textarea id="composer-input"></textarea>`;

const TS = new Date(2020, 0, 1, 9).getTime();
const said = (seq: number, user: string, text: string, extra: Partial<ChatMessage> = {}): ChatMessage => ({
  room: 'general',
  seq,
  id: `id${seq}`,
  user,
  text,
  ts: TS + seq * 120_000,
  ...extra,
});
const message = (m: ChatMessage): ServerMessage => ({ v: 2, type: 'message', message: m });

function setup(blocked: string[]) {
  document.body.innerHTML = PAGE;
  const sent: ClientMessage[] = [];
  const mentioned: ChatMessage[] = [];
  let now = TS;
  const state = new ChatState({
    send: (m) => sent.push(m),
    now: () => now,
    mentioned: (m) => mentioned.push(m),
  });
  const room = (name: string) => ({
    room: name,
    kind: 'public' as const,
    owner: null,
    head: 0,
    unread: 0,
    mentions: 0,
    online: ['alice', 'bob', 'carol'],
  });
  state.receive({
    v: 2,
    type: 'welcome',
    invitations: [],
    blocked,
    user: 'alice',
    rooms: [room('general'), room('other')],
    limits: DEFAULT_LIMITS,
  });
  const history = sent.at(-1) as ClientMessage & { ref: string };
  state.receive({
    v: 2,
    type: 'history',
    ref: history.ref,
    room: 'general',
    messages: [],
    head: 0,
    hasMore: false,
  });
  const shown: ChatMessage[] = [];
  const actions = {
    showBlocked: (m: ChatMessage) => {
      shown.push(m);
      state.showBlocked(m.room, m.seq);
      draw();
    },
  } as unknown as MessageActions;
  const outbox = { items: [] } as unknown as Outbox;
  const draw = () => {
    state.changes.clear();
    renderMessages(state, outbox, actions);
  };
  return { state, sent, mentioned, draw, shown, tick: (ms: number) => (now += ms) };
}

const row = (seq: number) =>
  document.querySelector<HTMLElement>(`#message-list li[data-seq="${seq}"]`) as HTMLElement;

beforeEach(() => {
  document.body.innerHTML = '';
});

describe("a blocked user's messages on the page", () => {
  it('are drawn collapsed, as text, until shown one by one; the others in full', () => {
    const { state, draw, shown } = setup(['Bob']);
    state.receive(message(said(1, 'bob', '<b>rude</b> words')));
    state.receive(message(said(2, 'carol', 'hello')));
    state.receive(message(said(3, 'bob', 'more')));
    draw();
    const hidden = row(1);
    expect(hidden.classList.contains('blocked-message')).toBe(true);
    expect(hidden.textContent).toBe('Message from a blocked user — Show');
    expect(hidden.textContent).not.toContain('rude');
    expect(hidden.querySelector('b')).toBeNull();
    expect(row(2).textContent).toContain('hello');
    expect(row(2).textContent).toContain('carol');
    expect(row(3).textContent).toBe('Message from a blocked user — Show');
    // Show: that one in full (its text as text), the other still collapsed.
    (hidden.querySelector('button.show-blocked') as HTMLButtonElement).click();
    expect(shown.map((m) => m.seq)).toEqual([1]);
    expect(row(1).classList.contains('blocked-message')).toBe(false);
    expect(row(1).textContent).toContain('<b>rude</b> words');
    expect(row(1).querySelector('b')).toBeNull();
    expect(row(3).textContent).toBe('Message from a blocked user — Show');
  });

  it('show in full once the block ends (a `blocked` list without them), and collapse when it starts', () => {
    const { state, draw } = setup([]);
    state.receive(message(said(1, 'bob', 'hi')));
    draw();
    expect(row(1).textContent).toContain('hi');
    state.receive({ v: 2, type: 'blocked', users: ['bob'] });
    expect(state.changes.has('messages')).toBe(true);
    draw();
    expect(row(1).textContent).toBe('Message from a blocked user — Show');
    state.receive({ v: 2, type: 'blocked', users: [] });
    draw();
    expect(row(1).textContent).toContain('hi');
  });

  it('raise no notification and no mention badge; their typing is not shown', () => {
    const { state, mentioned, tick } = setup(['bob']);
    const mention = { mentions: ['alice'] };
    // In a room not open: no unread count, no mention badge and no notification.
    state.receive(message({ ...said(1, 'bob', '@alice look', mention), room: 'other' }));
    state.receive(message({ ...said(2, 'carol', '@alice look', mention), room: 'other' }));
    expect(mentioned.map((m) => m.user)).toEqual(['carol']);
    expect(state.rooms.get('other')?.mentions).toBe(1);
    expect(state.rooms.get('other')?.unread).toBe(1);
    // An edit that adds a mention of a blocked user's: no badge either.
    state.receive(message({ ...said(3, 'bob', 'plain'), room: 'other' }));
    state.receive({
      v: 2,
      type: 'edited',
      room: 'other',
      seq: 4,
      target: 3,
      user: 'bob',
      text: '@alice now',
      ts: TS,
      mentions: ['alice'],
    });
    expect(state.rooms.get('other')?.mentions).toBe(1);
    // Typing: carol's shown, bob's not.
    state.receive({ v: 2, type: 'typing', room: 'general', user: 'bob' });
    state.receive({ v: 2, type: 'typing', room: 'general', user: 'carol' });
    tick(10);
    expect(state.typingIn('general', TS + 10)).toEqual(['carol']);
  });

  it('count in no unread badge, as the server counts after a reload; the counts follow the list live', () => {
    // Regression (blockleft): the page counted a blocked user's messages as unread (and the server
    // counted them after a reload), while their mentions counted nowhere.
    const { state } = setup([]);
    const other = () => {
      const room = state.rooms.get('other');
      return [room?.unread, room?.mentions];
    };
    state.receive(message({ ...said(1, 'bob', '@alice look', { mentions: ['alice'] }), room: 'other' }));
    state.receive(message({ ...said(2, 'carol', 'hi'), room: 'other' }));
    expect(other()).toEqual([2, 1]);
    state.changes.clear();
    state.receive({ v: 2, type: 'blocked', users: ['bob'] });
    expect(other()).toEqual([1, 0]);
    expect(state.changes.has('rooms')).toBe(true);
    state.receive(message({ ...said(3, 'bob', 'more'), room: 'other' }));
    expect(other()).toEqual([1, 0]);
    // His delete takes nothing away: it was not counted.
    state.receive({ v: 2, type: 'deleted', room: 'other', seq: 4, target: 3, user: 'bob', ts: TS });
    expect(other()).toEqual([1, 0]);
    // Unblocked: his messages still there count again.
    state.receive({ v: 2, type: 'blocked', users: [] });
    expect(other()).toEqual([2, 1]);
    // Read elsewhere up to carol's message: none left.
    state.receive({ v: 2, type: 'blocked', users: ['bob'] });
    state.receive({ v: 2, type: 'read', room: 'other', seq: 2 });
    expect(other()).toEqual([0, 0]);
  });

  it("block and unblock from the page ask the server, and the list is the server's answer", () => {
    const { state, sent } = setup([]);
    state.block('bob');
    expect(sent.at(-1)).toMatchObject({ v: 2, type: 'block', user: 'bob' });
    const ref = (sent.at(-1) as { ref: string }).ref;
    expect(state.isBlocked('bob')).toBe(false);
    state.receive({ v: 2, type: 'blocked', ref, users: ['bob'] });
    expect(state.isBlocked('BOB')).toBe(true);
    expect(state.blocked).toEqual(['bob']);
    state.unblock('bob');
    expect(sent.at(-1)).toMatchObject({ v: 2, type: 'unblock', user: 'bob' });
    // A refusal is said where room requests are answered.
    state.receive({
      v: 2,
      type: 'error',
      ref: (sent.at(-1) as { ref: string }).ref,
      code: 'no_such_user',
      message: 'there is no user bob',
    });
    expect(state.roomError).toBe('there is no user bob');
  });
});
