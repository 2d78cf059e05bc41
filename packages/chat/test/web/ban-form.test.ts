// @vitest-environment happy-dom
/**
 * The Banned list's section in the page's own HTML (static/index.html), in happy-dom: shown in a
 * public room the user moderates (its owner, or a server admin in general), with "Ban someone",
 * whose name goes out as `remove` (web/panels.ts setUpBanForm), the list itself hidden while empty;
 * its field offers the names the page knows in the room (a <datalist>). What a banned user's page
 * says: a refused join, and the ban lifted.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { type ClientMessage, DEFAULT_LIMITS, type RoomState } from '../../src/shared/protocol.js';
import type { Outbox } from '../../src/web/outbox.js';
import { setUpBanForm } from '../../src/web/panels.js';
import { type Actions, renderErrors, renderOnline } from '../../src/web/render.js';
import { ChatState } from '../../src/web/room-state.js';

const html = readFileSync(join(__dirname, '..', '..', 'static', 'index.html'), 'utf8');
const body = html.slice(html.indexOf('<body>') + 6, html.indexOf('</body>'));
const byId = (id: string) => document.getElementById(id) as HTMLElement;

const room = (name: string, owner: string | null): RoomState => ({
  room: name,
  kind: 'public',
  owner,
  head: 0,
  unread: 0,
  mentions: 0,
  online: ['root', 'bob'],
});

function signedIn(admin: boolean) {
  const sent: ClientMessage[] = [];
  const state = new ChatState({ send: (m) => sent.push(m), now: () => 0 });
  state.receive({
    v: 2,
    type: 'welcome',
    invitations: [],
    blocked: [],
    user: 'root',
    rooms: [room('general', null)],
    limits: DEFAULT_LIMITS,
    ...(admin ? { admin: true as const } : {}),
  });
  state.open('general');
  return { state, sent };
}

const actions = new Proxy({}, { get: () => () => {} }) as Actions;

beforeEach(() => {
  document.body.innerHTML = body;
});

describe('Ban someone', () => {
  it('is shown to an admin in general (the empty list hidden), and sends the name typed as remove', () => {
    const { state, sent } = signedIn(true);
    renderOnline(state, actions);
    expect(byId('bans').hidden).toBe(false);
    expect(byId('ban-list').hidden).toBe(true);
    expect(document.querySelector('label[for="ban-input"]')?.textContent).toBe('Ban someone');
    expect(byId('online-list').querySelector('li[data-user="bob"] .remove-member')).not.toBeNull();
    let online = true;
    setUpBanForm(
      (user) => {
        if (online) state.removeMember(state.active, user);
        return online;
      },
      () => [],
    );
    const field = byId('ban-input') as HTMLInputElement;
    const form = byId('ban-form') as HTMLFormElement;
    field.value = '  carol ';
    form.requestSubmit();
    expect(sent.filter((m) => m.type === 'remove')).toMatchObject([{ room: 'general', user: 'carol' }]);
    expect(field.value).toBe('');
    // Offline: nothing sent, the name stays.
    online = false;
    field.value = 'dan';
    form.requestSubmit();
    expect(sent.filter((m) => m.type === 'remove')).toHaveLength(1);
    expect(field.value).toBe('dan');
    // The answer puts the name on the list, which shows.
    const ref = (sent.find((m) => m.type === 'remove') as { ref: string }).ref;
    const load = (sent.find((m) => m.type === 'bans') as { ref: string }).ref;
    state.receive({ v: 2, type: 'bans', ref: load, room: 'general', users: [] });
    state.receive({ v: 2, type: 'removed', ref, room: 'general', user: 'carol' });
    renderOnline(state, actions);
    expect(byId('ban-list').hidden).toBe(false);
    expect(byId('ban-list').querySelector('li[data-user="carol"] .unban-user')).not.toBeNull();
  });

  it('is not shown to a user who does not moderate the room', () => {
    const { state } = signedIn(false);
    renderOnline(state, actions);
    expect(byId('bans').hidden).toBe(true);
    expect(byId('online-list').querySelector('.remove-member')).toBeNull();
  });
});

const outbox = { slowedDown: false } as Outbox;
const said = () => byId('room-error').textContent;

describe('Ban someone: names offered', () => {
  it('offers the people the page knows in the room (online, authors), not the user, the owner or the banned', () => {
    const sent: ClientMessage[] = [];
    const state = new ChatState({ send: (m) => sent.push(m), now: () => 0 });
    state.receive({
      v: 2,
      type: 'welcome',
      invitations: [],
      blocked: [],
      user: 'root',
      rooms: [{ ...room('lobby', 'alice'), online: ['root', 'bob', 'alice', 'carol'] }],
      limits: DEFAULT_LIMITS,
      admin: true,
    });
    state.open('lobby');
    const ref = (type: string) => (sent.find((m) => m.type === type) as { ref: string }).ref;
    state.receive({
      v: 2,
      type: 'history',
      ref: ref('history'),
      room: 'lobby',
      messages: [{ room: 'lobby', seq: 1, id: 'd1', user: 'dan', text: 'hi', ts: 1 }],
      head: 1,
      hasMore: false,
    });
    state.receive({ v: 2, type: 'bans', ref: ref('bans'), room: 'lobby', users: ['carol'] });
    renderOnline(state, actions);
    setUpBanForm(
      () => true,
      () => state.banNames(state.active),
    );
    const field = byId('ban-input') as HTMLInputElement;
    const list = byId('ban-names');
    expect(field.getAttribute('list')).toBe('ban-names');
    expect(list.tagName).toBe('DATALIST');
    const offered = () => [...list.querySelectorAll('option')].map((o) => o.value);
    field.dispatchEvent(new Event('focus'));
    expect(offered()).toEqual(['bob', 'dan']);
    // Kept up as names come and go while the field is used.
    state.receive({ v: 2, type: 'presence', room: 'lobby', user: 'eve', online: true });
    field.value = 'e';
    field.dispatchEvent(new Event('input'));
    expect(offered()).toEqual(['bob', 'dan', 'eve']);
  });
});

describe("a banned user's page", () => {
  function bob() {
    const sent: ClientMessage[] = [];
    const state = new ChatState({ send: (m) => sent.push(m), now: () => 0 });
    state.receive({
      v: 2,
      type: 'welcome',
      invitations: [],
      blocked: [],
      user: 'bob',
      rooms: [room('general', null), room('lobby', 'alice')],
      limits: DEFAULT_LIMITS,
    });
    state.open('general');
    return { state, sent };
  }

  it('says a refused join in its own words, true whoever banned', () => {
    const { state, sent } = bob();
    state.joinOrCreate('hall');
    const join = sent.find((m) => m.type === 'join') as { ref: string };
    state.receive({
      v: 2,
      type: 'error',
      ref: join.ref,
      code: 'banned',
      message: 'you are banned from this room',
    });
    renderErrors(state, outbox);
    expect(said()).toBe('You are banned from #hall.');
  });

  it('says the ban lifted (unbanned without ref, naming them), in place of their removal', () => {
    const { state } = bob();
    state.receive({ v: 2, type: 'member', room: 'lobby', user: 'bob', joined: false });
    state.receive({ v: 2, type: 'left', room: 'lobby', reason: 'removed' });
    renderErrors(state, outbox);
    expect(said()).toBe('You were removed from #lobby');
    // Another user's ban lifted is not this page's news.
    state.receive({ v: 2, type: 'unbanned', room: 'lobby', user: 'carol' });
    renderErrors(state, outbox);
    expect(said()).toBe('You were removed from #lobby');
    state.receive({ v: 2, type: 'unbanned', room: 'lobby', user: 'bob' });
    renderErrors(state, outbox);
    expect(said()).toBe('You may join #lobby again.');
    expect(byId('room-error').classList.contains('done')).toBe(true);
  });
});
