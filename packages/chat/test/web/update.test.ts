// @vitest-environment happy-dom
/**
 * "The chat was updated. Reload" (web/update.ts) in the page's own HTML: shown when the welcome's
 * build differs from this page's, in a role=status region, with a Reload button; never a reload by
 * itself; nothing when they match or either is unknown.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { PAGE_BUILD, showUpdate, UPDATED_TEXT } from '../../src/web/update.js';

const html = readFileSync(join(__dirname, '..', '..', 'static', 'index.html'), 'utf8');
const body = html.slice(html.indexOf('<body>') + 6, html.indexOf('</body>'));

const note = () => document.getElementById('update-note') as HTMLElement;

beforeEach(() => {
  document.body.innerHTML = body;
});

describe('the update note', () => {
  it('a page of another build than the server: says so with a Reload button, and reloads only when asked', () => {
    let reloads = 0;
    expect(note().getAttribute('role')).toBe('status');
    expect(note().textContent).toBe('');
    showUpdate('old', 'new', () => reloads++);
    expect(note().textContent).toBe(`${UPDATED_TEXT} Reload`);
    const button = note().querySelector('button');
    expect(button?.type).toBe('button');
    expect(reloads).toBe(0);
    // A reconnect to the same server: said once, not appended again.
    showUpdate('old', 'new', () => reloads++);
    expect(note().querySelectorAll('button')).toHaveLength(1);
    button?.click();
    expect(reloads).toBe(1);
  });

  it('the same build, or one unknown: nothing (and a note said before goes)', () => {
    showUpdate('b1', 'b1');
    expect(note().textContent).toBe('');
    showUpdate(null, 'b1');
    expect(note().textContent).toBe('');
    showUpdate('b1', undefined);
    expect(note().textContent).toBe('');
    showUpdate('b1', 'b2');
    expect(note().textContent).not.toBe('');
    showUpdate('b1', 'b1');
    expect(note().childNodes).toHaveLength(0);
  });

  it('this page, not bundled here, has no build of its own', () => {
    expect(PAGE_BUILD).toBeNull();
  });
});
