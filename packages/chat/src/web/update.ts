/**
 * A page opened before a deploy: the server's page is another build (welcome `build`), so this one
 * may not know the newer events, requests or fields. It says so in the bar, quietly ("The chat was
 * updated." and a Reload button, in a role=status region, so a screen reader hears it once), and
 * never reloads by itself: a draft, a message being edited or an upload would be lost. The build
 * ids come from scripts/build.mjs: this page's is put into its bundle (__CHAT_BUILD__), the
 * server's read from the page it serves. A page without one (not bundled: tests) or a server
 * without one says nothing.
 */
import { byId } from './dom.js';

declare const __CHAT_BUILD__: string | undefined;

/** This page's build id, or null when it was not bundled by scripts/build.mjs. */
export const PAGE_BUILD: string | null = typeof __CHAT_BUILD__ === 'string' ? __CHAT_BUILD__ : null;

export const UPDATED_TEXT = 'The chat was updated.';

/**
 * After each welcome: shows the note when both builds are known and differ, else clears it (a page
 * served by a node of its own build again, say after a rollback). `reload` is what the button does.
 */
export function showUpdate(
  pageBuild: string | null,
  serverBuild: string | undefined,
  reload: () => void = () => location.reload(),
): void {
  const note = byId('update-note');
  const stale = pageBuild !== null && serverBuild !== undefined && pageBuild !== serverBuild;
  if (!stale) {
    if (note.firstChild) note.replaceChildren();
    return;
  }
  if (note.firstChild) return; // said already: not announced again at every reconnect
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = 'Reload';
  button.addEventListener('click', () => reload());
  note.append(`${UPDATED_TEXT} `, button);
}
