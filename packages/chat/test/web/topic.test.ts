// @vitest-environment happy-dom
/**
 * Room topics on the page, without a browser: the header's topic line and its editor (web/topic.ts)
 * in the page's own HTML (static/index.html), and the line a `topic` event writes in the
 * conversation (room-state.ts, drawn by conversation.ts as text). The topic event is no message:
 * not unread, whether the room is open or not.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  type ClientMessage,
  DEFAULT_LIMITS,
  MAX_TOPIC_CHARS,
  type RoomEvent,
  type RoomState,
  type ServerMessage,
} from '../../src/shared/protocol.js';
import { type MessageActions, renderMessages } from '../../src/web/conversation.js';
import type { Outbox } from '../../src/web/outbox.js';
import { ChatState, MAX_NOTICES } from '../../src/web/room-state.js';
import { renderTopic, setUpTopic } from '../../src/web/topic.js';

const html = readFileSync(join(__dirname, '..', '..', 'static', 'index.html'), 'utf8');
const body = html.slice(html.indexOf('<body>') + 6, html.indexOf('</body>'));

const room = (name: string, owner: string | null, extra: Partial<RoomState> = {}): RoomState => ({
  room: name,
  kind: name.startsWith('dm:') ? 'dm' : 'public',
  owner,
  head: 4,
  unread: 0,
  mentions: 0,
  online: [],
  ...extra,
});

function setup(welcome: { admin?: true } = {}) {
  const sent: ClientMessage[] = [];
  const state = new ChatState({ send: (m) => sent.push(m), now: () => 0 });
  state.receive({
    v: 2,
    type: 'welcome',
    invitations: [],
    blocked: [],
    user: 'alice',
    rooms: [
      room('general', null),
      room('lobby', 'alice', { topic: 'Plans <b>for</b> Friday' }),
      room('hall', 'bob', { topic: 'Bob’s hall' }),
      room('dm:alice:bob', null),
    ],
    limits: DEFAULT_LIMITS,
    ...welcome,
  });
  const saved: [string, string][] = [];
  setUpTopic(state, (r, text) => {
    saved.push([r, text]);
    state.setTopic(r, text);
  });
  const asked = (type: string) => sent.filter((m) => m.type === type) as (ClientMessage & { ref: string })[];
  const show = (name: string) => {
    state.open(name);
    renderTopic(state);
  };
  return { state, saved, asked, show };
}

const byId = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const topicEvent = (r: string, seq: number, user: string, text: string): ServerMessage => ({
  v: 2,
  type: 'topic',
  room: r,
  seq,
  user,
  text,
  ts: 0,
});

beforeEach(() => {
  document.body.innerHTML = body;
});

describe('the topic in the header', () => {
  it('shows the open room topic under its name, as text, whole in its title; none: no line', () => {
    const { show } = setup();
    show('lobby');
    expect(byId('room-topic').hidden).toBe(false);
    expect(byId('room-topic').textContent).toBe('Plans <b>for</b> Friday');
    expect(byId('room-topic').querySelector('b')).toBeNull();
    expect(byId('room-topic').title).toBe('Plans <b>for</b> Friday');
    show('general');
    expect(byId('room-topic').hidden).toBe(true);
  });

  it('offers Edit topic to the owner and in a direct message, not in general nor in another owner room', () => {
    const { show, state } = setup();
    show('lobby');
    expect(byId('edit-topic').hidden).toBe(false);
    show('dm:alice:bob');
    expect(byId('edit-topic').hidden).toBe(false);
    show('general');
    expect(byId('edit-topic').hidden).toBe(true);
    show('hall');
    expect(byId('edit-topic').hidden).toBe(true);
    expect(state.maySetTopic('general')).toBe(false);
  });

  it('offers Edit topic to a server admin in every public room, general too, not in a private one', () => {
    const { show, state } = setup({ admin: true });
    show('general');
    expect(byId('edit-topic').hidden).toBe(false);
    show('hall');
    expect(byId('edit-topic').hidden).toBe(false);
    state.receive({ v: 2, type: 'joined', ...room('secret', 'bob', { kind: 'private' }) });
    expect(state.maySetTopic('secret')).toBe(false);
  });

  it('Edit topic opens the input with the topic; Enter saves it trimmed, Escape cancels; the focus goes back', () => {
    const { show, saved, asked } = setup();
    show('lobby');
    byId('edit-topic').click();
    const input = byId<HTMLInputElement>('topic-input');
    expect(byId('topic-form').hidden).toBe(false);
    expect(byId('edit-topic').hidden).toBe(true);
    expect(input.value).toBe('Plans <b>for</b> Friday');
    expect(document.activeElement).toBe(input);
    input.value = 'Something else';
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    expect(byId('topic-form').hidden).toBe(true);
    expect(document.activeElement).toBe(byId('edit-topic'));
    expect(saved).toEqual([]);

    byId('edit-topic').click();
    input.value = '  Lunch at noon  ';
    byId<HTMLFormElement>('topic-form').requestSubmit();
    expect(saved).toEqual([['lobby', 'Lunch at noon']]);
    expect(asked('topic')).toMatchObject([{ type: 'topic', room: 'lobby', text: 'Lunch at noon' }]);
    expect(byId('topic-form').hidden).toBe(true);
    expect(document.activeElement).toBe(byId('edit-topic'));
  });

  it('says a refusal under it: too long before sending, the server words after', () => {
    const { show, state, saved, asked } = setup();
    show('lobby');
    byId('edit-topic').click();
    byId<HTMLInputElement>('topic-input').value = '😀'.repeat(MAX_TOPIC_CHARS + 1);
    byId<HTMLFormElement>('topic-form').requestSubmit();
    expect(saved).toEqual([]);
    expect(byId('topic-error').hidden).toBe(false);
    expect(byId('topic-error').textContent).toBe(`A topic has at most ${MAX_TOPIC_CHARS} characters.`);
    byId<HTMLInputElement>('topic-input').value = 'Fine';
    byId<HTMLFormElement>('topic-form').requestSubmit();
    const [request] = asked('topic');
    state.receive({
      v: 2,
      type: 'error',
      ref: request.ref,
      code: 'forbidden',
      message: 'only the owner of a room can set its topic',
    });
    renderTopic(state);
    expect(byId('topic-error').textContent).toBe('only the owner of a room can set its topic');
  });
});

describe('a topic event', () => {
  const noop = () => {};
  const actions = {
    edit: noop,
    remove: noop,
    dm: noop,
    react: noop,
    pickReaction: noop,
    reply: noop,
    reveal: noop,
    resendPending: (id: string) => id,
    editPending: noop,
    discardPending: noop,
    showBlocked: noop,
  } as MessageActions;

  it('changes the header and writes "who set the topic" in the conversation, as text; not unread', () => {
    const { state, asked, show } = setup();
    show('hall');
    const [history] = asked('history');
    state.receive({
      v: 2,
      type: 'history',
      ref: history.ref,
      room: 'hall',
      messages: [],
      head: 4,
      hasMore: false,
    });
    state.receive(topicEvent('hall', 5, 'bob', 'New <i>rules</i>'));
    renderTopic(state);
    expect(byId('room-topic').textContent).toBe('New <i>rules</i>');
    renderMessages(state, { items: [] } as unknown as Outbox, actions);
    const notices = [...document.querySelectorAll('#message-list li.notice')];
    expect(notices.map((n) => n.textContent)).toEqual(['bob set the topic: New <i>rules</i>']);
    expect(notices[0].querySelector('i')).toBeNull();
    state.receive(topicEvent('hall', 6, 'bob', ''));
    renderMessages(state, { items: [] } as unknown as Outbox, actions);
    expect([...document.querySelectorAll('#message-list li.notice')].map((n) => n.textContent)).toEqual([
      'bob set the topic: New <i>rules</i>',
      'bob cleared the topic',
    ]);
    renderTopic(state);
    expect(byId('room-topic').hidden).toBe(true);
    expect(state.rooms.get('hall')).toMatchObject({ unread: 0, head: 6 });

    // A room not open: its topic changes all the same, and nothing is unread.
    state.receive(topicEvent('lobby', 5, 'alice', 'Elsewhere'));
    expect(state.rooms.get('lobby')).toMatchObject({ topic: 'Elsewhere', unread: 0, head: 5 });
    expect(state.unreadElsewhere).toBe(0);
  });
});

describe('topic lines in a history page', () => {
  const noop = () => {};
  const actions = {
    edit: noop,
    remove: noop,
    dm: noop,
    react: noop,
    pickReaction: noop,
    reply: noop,
    reveal: noop,
    resendPending: (id: string) => id,
    editPending: noop,
    discardPending: noop,
    showBlocked: noop,
  } as MessageActions;
  const message = (seq: number) => ({
    room: 'hall',
    seq,
    id: `b${seq}`,
    user: 'bob',
    text: `m${seq}`,
    ts: 0,
  });
  const topic = (seq: number, user: string, text: string) => ({
    type: 'topic' as const,
    room: 'hall',
    seq,
    user,
    text,
    ts: 0,
  });
  /** The conversation's rows: a message by its seq, a notice by its text. */
  const rows = () =>
    [...document.querySelectorAll<HTMLElement>('#message-list li.message, #message-list li.notice')].map(
      (li) => (li.classList.contains('notice') ? li.textContent : Number(li.dataset.seq)),
    );

  it('draws each change in seq order between the messages, on load and when scrolling back; an unknown type is stepped over', () => {
    const { state, asked, show } = setup();
    show('hall');
    const [latest] = asked('history').filter((m) => 'room' in m && m.room === 'hall');
    state.receive({
      v: 2,
      type: 'history',
      ref: latest.ref,
      room: 'hall',
      messages: [message(4), message(6), message(9)],
      head: 10,
      hasMore: true,
      events: [
        topic(5, 'alice', 'Hiking'),
        { type: 'poll', room: 'hall', seq: 7, user: 'bob', ts: 0 } as unknown as RoomEvent,
        topic(8, 'bob', ''),
        topic(10, 'bob', 'Climbing <b>too</b>'),
      ],
    });
    renderMessages(state, { items: [] } as unknown as Outbox, actions);
    expect(rows()).toEqual([
      4,
      'You set the topic: Hiking',
      6,
      'bob cleared the topic',
      9,
      'bob set the topic: Climbing <b>too</b>',
    ]);
    expect(document.querySelector('#message-list li.notice b')).toBeNull();
    // Scrolled back: the older page's lines go in place above, before the ones already shown.
    state.loadOlder();
    const [, older] = asked('history').filter((m) => 'room' in m && m.room === 'hall');
    expect(older).toMatchObject({ before: 4 });
    state.receive({
      v: 2,
      type: 'history',
      ref: older.ref,
      room: 'hall',
      messages: [message(2)],
      head: 10,
      hasMore: false,
      events: [topic(1, 'bob', 'Walks'), topic(3, 'alice', 'Hikes')],
    });
    renderMessages(state, { items: [] } as unknown as Outbox, actions);
    expect(rows()).toEqual([
      'bob set the topic: Walks',
      2,
      'You set the topic: Hikes',
      4,
      'You set the topic: Hiking',
      6,
      'bob cleared the topic',
      9,
      'bob set the topic: Climbing <b>too</b>',
    ]);
    // Not unread, and the header keeps the room's topic (welcome's, then live events').
    expect(state.rooms.get('hall')).toMatchObject({ unread: 0, topic: 'Bob’s hall' });
  });

  it('a page reloaded (reset) draws its own lines again, not twice', () => {
    const { state, asked, show } = setup();
    show('hall');
    const page = (ref: string) =>
      state.receive({
        v: 2,
        type: 'history',
        ref,
        room: 'hall',
        messages: [message(4)],
        head: 5,
        hasMore: false,
        events: [topic(5, 'bob', 'Once')],
      });
    const hall = () => asked('history').filter((m) => 'room' in m && m.room === 'hall');
    page(hall()[0].ref);
    state.receive({ v: 2, type: 'reset', room: 'hall', head: 5 });
    const reload = hall()[1];
    expect(reload).toBeDefined();
    page(reload.ref);
    renderMessages(state, { items: [] } as unknown as Outbox, actions);
    expect(rows()).toEqual([4, 'bob set the topic: Once']);
  });

  it('keeps every loaded and live topic line as long as the messages, however many; only join and leave lines are capped', () => {
    const { state, asked, show } = setup();
    show('hall');
    const hall = () => asked('history').filter((m) => 'room' in m && m.room === 'hall');
    // Two pages of MAX_NOTICES messages each, a topic change after every message: more lines than
    // the cap, all of them kept (the first page's too, once the older one is loaded above it).
    const seqs = (from: number) => Array.from({ length: MAX_NOTICES }, (_, i) => from + 2 * i);
    const newer = seqs(2 * MAX_NOTICES + 1);
    const older = seqs(1);
    state.receive({
      v: 2,
      type: 'history',
      ref: hall()[0].ref,
      room: 'hall',
      messages: newer.map(message),
      head: newer.at(-1)! + 1,
      hasMore: true,
      events: newer.map((seq) => topic(seq + 1, 'bob', `t${seq + 1}`)),
    });
    state.loadOlder();
    state.receive({
      v: 2,
      type: 'history',
      ref: hall()[1].ref,
      room: 'hall',
      messages: older.map(message),
      head: newer.at(-1)! + 1,
      hasMore: false,
      events: older.map((seq) => topic(seq + 1, 'bob', `t${seq + 1}`)),
    });
    const all = [...older, ...newer];
    const lines = () => rows().filter((row) => typeof row === 'string');
    renderMessages(state, { items: [] } as unknown as Outbox, actions);
    expect(lines()).toEqual(all.map((seq) => `bob set the topic: t${seq + 1}`));
    // Live: one more topic change, then more joins than the cap: the oldest joins go, no topic line.
    const head = newer.at(-1)! + 1;
    state.receive(topicEvent('hall', head + 1, 'bob', 'live'));
    for (let i = 0; i <= MAX_NOTICES; i++)
      state.receive({ v: 2, type: 'member', room: 'hall', user: `u${i}`, joined: true });
    renderMessages(state, { items: [] } as unknown as Outbox, actions);
    const shown = lines();
    expect(shown.filter((line) => line?.includes('set the topic'))).toEqual([
      ...all.map((seq) => `bob set the topic: t${seq + 1}`),
      'bob set the topic: live',
    ]);
    const joins = shown.filter((line) => !line?.includes('set the topic'));
    expect(joins).toHaveLength(MAX_NOTICES);
    expect(joins[0]).toContain('u1 ');
    expect(joins.at(-1)).toContain(`u${MAX_NOTICES} `);
  });
});

describe('a room event of a type the page does not know', () => {
  it('is stepped over: the next message applies without a sync, and nothing is shown for it', () => {
    const { state, asked, show } = setup();
    show('hall');
    const [history] = asked('history');
    state.receive({
      v: 2,
      type: 'history',
      ref: history.ref,
      room: 'hall',
      messages: [],
      head: 4,
      hasMore: false,
    });
    state.receive({
      v: 2,
      type: 'poll',
      room: 'hall',
      seq: 5,
      user: 'bob',
      ts: 0,
    } as unknown as ServerMessage);
    state.receive({
      v: 2,
      type: 'message',
      message: { room: 'hall', seq: 6, id: 'b1', user: 'bob', text: 'after it', ts: 0 },
    });
    expect(asked('sync')).toEqual([]);
    expect(state.rooms.get('hall')).toMatchObject({ head: 6, notices: [] });
    expect([...(state.rooms.get('hall')?.messages.keys() ?? [])]).toEqual([6]);
  });
});
