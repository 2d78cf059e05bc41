// @vitest-environment happy-dom
/**
 * The page's header drawn from the state (web/render.ts renderHeader), in the page's own HTML
 * (static/index.html) in happy-dom: what the Leave button says for a direct message, and the hint
 * shown in no room, whose links lead to the room list (web/panels.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type RoomState } from '../../src/shared/protocol.js';
import { setUpPanels } from '../../src/web/panels.js';
import { renderHeader } from '../../src/web/render.js';
import { ChatState } from '../../src/web/room-state.js';

const html = readFileSync(join(__dirname, '..', '..', 'static', 'index.html'), 'utf8');
const body = html.slice(html.indexOf('<body>') + 6, html.indexOf('</body>'));

const room = (name: string, kind: RoomState['kind'] = 'public'): RoomState => ({
  room: name,
  kind,
  owner: null,
  head: 0,
  unread: 0,
  mentions: 0,
  online: [],
});

function signedIn(rooms: RoomState[]): ChatState {
  const state = new ChatState({ send: () => {}, now: () => 0 });
  state.receive({
    v: 2,
    type: 'welcome',
    invitations: [],
    blocked: [],
    user: 'alice',
    rooms,
    limits: DEFAULT_LIMITS,
  });
  return state;
}

const byId = (id: string) => document.getElementById(id) as HTMLElement;

beforeEach(() => {
  document.body.innerHTML = body;
});

describe('the header', () => {
  it('a direct message is closed ("Close conversation"), a room left ("Leave room")', () => {
    const state = signedIn([room('general'), room('dm:alice:bob', 'dm')]);
    state.open('dm:alice:bob');
    renderHeader(state);
    expect(byId('leave-room').textContent).toBe('Close conversation');
    expect(byId('leave-room').hidden).toBe(false);
    state.open('general');
    renderHeader(state);
    expect(byId('leave-room').textContent).toBe('Leave room');
  });

  it('in no room, says how to join a room or start one; its links go to the room list', () => {
    const state = signedIn([]);
    renderHeader(state);
    const hint = byId('no-room');
    expect(hint.hidden).toBe(false);
    expect(hint.textContent).toContain('All rooms');
    expect(hint.textContent).toContain('Join or create a room');
    expect(byId('leave-room').hidden).toBe(true);
    setUpPanels();
    byId('no-room-create').click();
    expect(document.activeElement).toBe(byId('room-input'));
    byId('no-room-browse').click();
    expect((byId('all-rooms') as HTMLDetailsElement).open).toBe(true);
    expect(document.activeElement).toBe(byId('all-rooms').querySelector('summary'));
    // In a room, the hint goes.
    state.receive({ v: 2, type: 'joined', ...room('general') });
    state.open('general');
    renderHeader(state);
    expect(hint.hidden).toBe(true);
  });
});
