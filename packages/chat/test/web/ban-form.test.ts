// @vitest-environment happy-dom
/**
 * The Banned list's section in the page's own HTML (static/index.html), in happy-dom: shown in a
 * public room the user moderates (its owner, or a server admin in general), with "Ban someone",
 * whose name goes out as `remove` (web/panels.ts setUpBanForm), the list itself hidden while empty.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { type ClientMessage, DEFAULT_LIMITS, type RoomState } from '../../src/shared/protocol.js';
import { setUpBanForm } from '../../src/web/panels.js';
import { type Actions, renderOnline } from '../../src/web/render.js';
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
    setUpBanForm((user) => {
      if (online) state.removeMember(state.active, user);
      return online;
    });
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
