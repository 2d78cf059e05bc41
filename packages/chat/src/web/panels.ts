/**
 * The phone layout's drawers: on a narrow screen the room list (with the join form) and the people
 * panel (who is online; a private room's members) slide in over the conversation from the Rooms
 * (☰) and People (👥) buttons, and close with Esc, the backdrop, or by opening a room. The
 * composer stays above the on-screen keyboard: the page's height follows the visual viewport
 * (style.css reads --app-height).
 */
type Drawer = 'rooms' | 'online';

const toggles: Record<Drawer, string> = { rooms: 'menu-toggle', online: 'online-toggle' };
const panels: Record<Drawer, string> = { rooms: 'rooms-panel', online: 'online-panel' };

let openDrawer: Drawer | null = null;

function byId(id: string): HTMLElement {
  return document.getElementById(id) as HTMLElement;
}

/**
 * While a drawer is open, what it covers is inert (out of the Tab order and the accessibility
 * tree), as behind a modal dialog: Tab goes round the bar and the drawer only.
 */
function coverBehind(drawer: Drawer | null): void {
  for (const id of ['conversation', ...Object.values(panels)])
    byId(id).inert = drawer !== null && id !== panels[drawer];
}

/**
 * Where the answer to a request made now is seen (render.ts renderErrors): in the room list's
 * area (`room-error`) on a desktop, and on a phone while the rooms drawer is open; in the people
 * drawer (`online-error`) while that one is open, as its Remove, Unban and names are answered there;
 * else above the composer (`room-note`), as what is in a closed drawer, or behind an open one
 * (inert), is neither seen nor announced.
 */
export function answerPlace(): 'room-error' | 'online-error' | 'room-note' {
  if (!matchMedia('(max-width: 720px)').matches || openDrawer === 'rooms') return 'room-error';
  return openDrawer === 'online' ? 'online-error' : 'room-note';
}

export function closeDrawer(): boolean {
  if (!openDrawer) return false;
  const was = openDrawer;
  openDrawer = null;
  coverBehind(null);
  document.body.classList.remove('drawer-rooms', 'drawer-online');
  byId(toggles[was]).setAttribute('aria-expanded', 'false');
  byId('backdrop').hidden = true;
  // Back where the user was, if the focus was in the closed drawer.
  if (byId(panels[was]).contains(document.activeElement)) byId(toggles[was]).focus();
  return true;
}

function open(drawer: Drawer): void {
  closeDrawer();
  openDrawer = drawer;
  document.body.classList.add(`drawer-${drawer}`);
  coverBehind(drawer);
  byId(toggles[drawer]).setAttribute('aria-expanded', 'true');
  byId('backdrop').hidden = false;
  byId(panels[drawer]).querySelector<HTMLElement>('button, input')?.focus();
}

/**
 * Puts the focus on `target`, in the room list: the rooms drawer opens first on a phone (the "no
 * room" hint's links).
 */
function showInRooms(target: HTMLElement): void {
  if (matchMedia('(max-width: 720px)').matches && openDrawer !== 'rooms') open('rooms');
  target.focus();
}

export function setUpPanels(): void {
  byId('no-room-browse').addEventListener('click', () => {
    const all = byId('all-rooms') as HTMLDetailsElement;
    all.open = true; // its `toggle` asks for the list (main.ts)
    showInRooms(all.querySelector('summary') as HTMLElement);
  });
  byId('no-room-create').addEventListener('click', () => showInRooms(byId('room-input')));
  for (const drawer of ['rooms', 'online'] as const) {
    byId(toggles[drawer]).addEventListener('click', () =>
      openDrawer === drawer ? closeDrawer() : open(drawer),
    );
  }
  byId('backdrop').addEventListener('click', () => closeDrawer());
  // Widened past the phone layout, there are no drawers: nothing may stay covered.
  matchMedia('(max-width: 720px)').addEventListener('change', (event) => {
    if (!event.matches) closeDrawer();
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && closeDrawer()) event.preventDefault();
  });
  const viewport = window.visualViewport;
  if (viewport) {
    const fit = () => document.documentElement.style.setProperty('--app-height', `${viewport.height}px`);
    viewport.addEventListener('resize', fit);
    fit();
  }
}

/**
 * "Ban someone", in the Banned list of a public room the user moderates (render.ts renderBans): the
 * name typed (online or not, in the room or not), trimmed, goes to `ban`, which answers whether it
 * was sent; then the field empties (offline the name stays, and `ban` says why). The field offers
 * `names` (room-state.ts banNames) as it is focused or typed in: a <datalist> (#ban-names), which
 * the browser filters by what is typed and offers as a combobox's list, the keyboard and screen
 * readers included; any other name may still be typed.
 */
export function setUpBanForm(ban: (user: string) => boolean, names: () => string[]): void {
  const field = byId('ban-input') as HTMLInputElement;
  const list = byId('ban-names');
  const offer = () => {
    const now = names();
    const shown = [...list.children].map((option) => (option as HTMLOptionElement).value);
    if (shown.length === now.length && shown.every((name, i) => name === now[i])) return;
    list.replaceChildren(
      ...now.map((name) => {
        const option = document.createElement('option');
        option.value = name;
        return option;
      }),
    );
  };
  field.addEventListener('focus', offer);
  field.addEventListener('input', offer);
  byId('ban-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const user = field.value.trim();
    if (user === '' || ban(user)) field.value = '';
  });
}
