/**
 * The composer's drafts without a browser: one per room, kept across a reload (a new store reading
 * what the last one saved), bounded, dropped for another user, tolerant of a broken saved copy.
 */
import { describe, expect, it } from 'vitest';
import {
  type Draft,
  Drafts,
  editDraft,
  editUnchanged,
  MAX_DRAFTS,
  MAX_SAVED_CHARS,
} from '../../src/web/drafts.js';

/** A store over one saved string, as sessionStorage is for the page; `reload` reads it again. */
function setup(initial: string | null = null) {
  let stored = initial;
  let saves = 0;
  const host = {
    load: () => stored,
    save: (json: string) => {
      stored = json;
      saves++;
    },
  };
  return {
    drafts: new Drafts(host),
    reload: () => new Drafts(host),
    stored: () => stored,
    saves: () => saves,
  };
}

describe('drafts', () => {
  it('keeps one draft per room, with its reply or edit, across a reload', () => {
    const { drafts, reload } = setup();
    drafts.set('general', { text: 'for general' });
    drafts.set('random', { text: 'for random', reply: { seq: 4, label: 'bob: a question' } });
    drafts.set('dev', { text: 'fixed text', edit: 7 });
    drafts.set('ops', {
      text: 'edited',
      edit: 2,
      before: { text: 'a new one', reply: { seq: 1, label: 'bob: hi' } },
    });
    expect(drafts.get('general')).toEqual({ text: 'for general' });
    const again = reload();
    expect(again.rooms().sort()).toEqual(['dev', 'general', 'ops', 'random']);
    expect(again.get('ops')).toEqual({
      text: 'edited',
      edit: 2,
      before: { text: 'a new one', reply: { seq: 1, label: 'bob: hi' } },
    });
    expect(again.get('general')).toEqual({ text: 'for general' });
    expect(again.get('random')).toEqual({ text: 'for random', reply: { seq: 4, label: 'bob: a question' } });
    expect(again.get('dev')).toEqual({ text: 'fixed text', edit: 7 });
    expect(again.get('other')).toBeUndefined();
  });

  it('removes a room whose draft is emptied (sent or cleared); a reply alone is a draft', () => {
    const { drafts, reload } = setup();
    drafts.set('general', { text: 'x' });
    drafts.set('general', { text: '' });
    expect(drafts.get('general')).toBeUndefined();
    drafts.set('random', { text: '', reply: { seq: 1, label: 'bob: hi' } });
    expect(reload().rooms()).toEqual(['random']);
  });

  it('does not save again what did not change (each keystroke saves once)', () => {
    const { drafts, saves } = setup();
    drafts.set('general', { text: 'a' });
    drafts.set('general', { text: 'a' });
    drafts.set('random', { text: '' });
    expect(saves()).toBe(1);
  });

  it("hands a room's draft over once when the room is gone", () => {
    const { drafts, reload } = setup();
    drafts.set('random', { text: 'unsent words' });
    expect(drafts.take('random')).toEqual({ text: 'unsent words' });
    expect(drafts.take('random')).toBeUndefined();
    expect(reload().get('random')).toBeUndefined();
  });

  it('keeps at most MAX_DRAFTS rooms, dropping the one written longest ago', () => {
    const { drafts, reload } = setup();
    for (let i = 0; i <= MAX_DRAFTS; i++) drafts.set(`room${i}`, { text: `text ${i}` });
    drafts.set('room1', { text: 'written again' }); // now the newest: stays
    drafts.set('extra', { text: 'one more' });
    const rooms = reload().rooms();
    expect(rooms.length).toBe(MAX_DRAFTS);
    expect(rooms).not.toContain('room0');
    expect(rooms).not.toContain('room2');
    expect(rooms).toContain('room1');
    expect(rooms).toContain('extra');
  });

  it('saves the newest drafts within MAX_SAVED_CHARS; one that does not fit stays in memory', () => {
    const { drafts, reload, stored } = setup();
    const big = 'b'.repeat(MAX_SAVED_CHARS - 10);
    drafts.set('old', { text: 'o'.repeat(20) });
    drafts.set('big', { text: big });
    drafts.set('new', { text: 'newest' });
    expect(drafts.get('old')?.text).toBe('o'.repeat(20));
    expect(reload().rooms()).toEqual(['big', 'new']);
    expect((stored() ?? '').length).toBeLessThan(MAX_SAVED_CHARS + 1000);
  });

  it('stays usable when the storage refuses to save (over its quota)', () => {
    const drafts = new Drafts({
      load: () => null,
      save: () => {
        throw new Error('QuotaExceededError');
      },
    });
    drafts.set('general', { text: 'still here' });
    expect(drafts.get('general')).toEqual({ text: 'still here' });
  });

  it('drops the drafts of another user signed in in the same tab, never showing them', () => {
    const { drafts, reload } = setup();
    expect(drafts.signedIn('alice')).toBe(false);
    drafts.set('general', { text: "alice's words" });
    const bobs = reload();
    expect(bobs.signedIn('bob')).toBe(true);
    expect(bobs.get('general')).toBeUndefined();
    expect(reload().rooms()).toEqual([]);
    // The same user again keeps them.
    const { drafts: first, reload: again } = setup();
    first.signedIn('alice');
    first.set('general', { text: 'mine' });
    const next = again();
    expect(next.signedIn('alice')).toBe(false);
    expect(next.get('general')).toEqual({ text: 'mine' });
  });

  it('clears everything on sign out', () => {
    const { drafts, reload } = setup();
    drafts.signedIn('alice');
    drafts.set('general', { text: 'x' });
    drafts.clear();
    expect(reload().rooms()).toEqual([]);
  });

  it('ignores a saved copy it cannot read, and entries that are not drafts', () => {
    expect(setup('not json').drafts.rooms()).toEqual([]);
    expect(setup('[1,2]').drafts.rooms()).toEqual([]);
    const saved = {
      v: 1,
      user: 'alice',
      drafts: [
        ['general', { text: 'fine', reply: { seq: 'x', label: 'bad' }, edit: 1.5 }],
        ['random', { text: 3 }],
        [4, { text: 'no room' }],
        'garbage',
        ['empty', { text: '' }],
        ['aside', { text: 'x', before: { text: 'no edit: not kept' } }],
        ['edit', { text: 'y', edit: 3, before: { text: 5 } }],
      ],
    };
    const { drafts } = setup(JSON.stringify(saved));
    expect(drafts.rooms()).toEqual(['general', 'aside', 'edit']);
    expect(drafts.get('general')).toEqual({ text: 'fine' } satisfies Draft);
    expect(drafts.get('aside')).toEqual({ text: 'x' });
    expect(drafts.get('edit')).toEqual({ text: 'y', edit: 3 });
  });

  it('starts an edit putting aside the new message being written, with its reply', () => {
    const reply = { seq: 1, label: 'bob: hi' };
    expect(editDraft({ text: '' }, { seq: 5, text: 'mine' })).toEqual({ text: 'mine', edit: 5 });
    expect(editDraft({ text: 'half written', reply }, { seq: 5, text: 'mine' })).toEqual({
      text: 'mine',
      edit: 5,
      before: { text: 'half written', reply },
    });
    expect(editDraft({ text: '', reply }, { seq: 5, text: 'mine' })).toEqual({
      text: 'mine',
      edit: 5,
      before: { text: '', reply },
    });
  });

  it('switches from an unchanged edit to another, keeping what was put aside; never drops a changed one', () => {
    const editing: Draft = { text: 'first', edit: 3, before: { text: 'aside' } };
    // Unchanged: the new edit replaces it, the message put aside stays aside.
    expect(editDraft(editing, { seq: 4, text: 'second' }, 'first')).toEqual({
      text: 'second',
      edit: 4,
      before: { text: 'aside' },
    });
    // Changed (or its text unknown, e.g. not loaded): kept, the caller says so.
    const changed: Draft = { ...editing, text: 'first, corrected' };
    expect(editDraft(changed, { seq: 4, text: 'second' }, 'first')).toBeNull();
    expect(editDraft(editing, { seq: 4, text: 'second' }, undefined)).toBeNull();
    // The same message again: its typed text stays.
    expect(editDraft(changed, { seq: 3, text: 'first' }, 'first')).toBe(changed);
    // A reply (or anything else) may leave an edit only when that loses nothing.
    expect(editUnchanged({ text: 'new message' }, undefined)).toBe(true);
    expect(editUnchanged(editing, 'first')).toBe(true);
    expect(editUnchanged(changed, 'first')).toBe(false);
  });
});
