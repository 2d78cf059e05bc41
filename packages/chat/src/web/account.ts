/**
 * The account dialog, opened from "Account" beside "Sign out": change the password (current, new,
 * repeated) and sign out the other sessions (POST /api/password, /api/logout-others; both end every
 * session of the user but this page's, whose sockets the server closes). Every answer is written as
 * text (textContent), never as HTML.
 */
import { MAX_PASSWORD, MIN_PASSWORD } from '../shared/protocol.js';
import { el, tieError } from './dom.js';

interface Answer {
  status: number;
  body: { message?: string; retryAfterMs?: number; ended?: number };
}

/** POSTs JSON as the other forms do; null when the server cannot be reached. */
async function postJson(path: string, body: unknown): Promise<Answer | null> {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }).catch(() => null);
  if (!res) return null;
  return { status: res.status, body: ((await res.json().catch(() => null)) ?? {}) as Answer['body'] };
}

/** "1 other session", "2 other sessions". */
function sessions(n: number): string {
  return `${n} other ${n === 1 ? 'session' : 'sessions'}`;
}

/** What a refused request says to the user (text). */
function refusal(answer: Answer | null, what: string): string {
  if (!answer) return 'Cannot reach the server.';
  if (answer.status === 401) return 'You are signed out: sign in again.';
  if (answer.status === 429)
    return `Too many attempts — try again in ${Math.ceil((answer.body.retryAfterMs ?? 1000) / 1000)} s.`;
  return answer.body.message ? `${what}: ${answer.body.message}.` : `${what} (${answer.status}).`;
}

/** A password field and its label. */
function field(
  id: string,
  label: string,
  autocomplete: string,
  min: number,
): [HTMLLabelElement, HTMLInputElement] {
  const input = el('input');
  input.id = id;
  input.type = 'password';
  input.setAttribute('autocomplete', autocomplete);
  input.required = true;
  input.minLength = min;
  input.maxLength = MAX_PASSWORD;
  const text = el('label', undefined, label);
  text.htmlFor = id;
  return [text, input];
}

/**
 * The users this user blocks, each with Unblock, in the dialog's "Blocked users" section (the list
 * as the server last said it: room-state.ts `blocked`). Names are written as text.
 */
export function renderBlocked(users: readonly string[], unblock: (user: string) => void): void {
  const list = document.getElementById('blocked-list');
  const none = document.getElementById('blocked-none');
  if (!list || !none) return;
  list.replaceChildren();
  for (const user of users) {
    const li = el('li');
    li.dataset.user = user;
    const button = el('button', 'secondary', 'Unblock');
    button.type = 'button';
    button.setAttribute('aria-label', `Unblock ${user}`);
    button.addEventListener('click', () => unblock(user));
    li.append(el('span', 'name', user), ' ', button);
    list.append(li);
  }
  none.hidden = users.length > 0;
}

/** Builds the dialog and the button that opens it (put before `before`, the Sign out button). */
export function setUpAccount(before: HTMLElement): void {
  const dialog = el('dialog');
  dialog.id = 'account-dialog';
  dialog.setAttribute('aria-labelledby', 'account-title');
  const title = el('h2', undefined, 'Account');
  title.id = 'account-title';

  const form = el('form');
  form.id = 'password-form';
  const heading = el('h3', undefined, 'Change password');
  const [currentLabel, current] = field('password-current', 'Current password', 'current-password', 1);
  const [nextLabel, next] = field('password-new', 'New password', 'new-password', MIN_PASSWORD);
  const [repeatLabel, repeat] = field('password-repeat', 'New password again', 'new-password', MIN_PASSWORD);
  const hint = el(
    'p',
    'hint',
    `At least ${MIN_PASSWORD} characters. Your other sessions are signed out; this one stays.`,
  );
  const error = el('p', 'error');
  error.id = 'password-error';
  error.setAttribute('role', 'alert');
  const done = el('p', 'done');
  done.id = 'password-done';
  done.setAttribute('role', 'status');
  const change = el('button', undefined, 'Change password');
  change.type = 'submit';
  form.append(
    heading,
    currentLabel,
    current,
    nextLabel,
    next,
    repeatLabel,
    repeat,
    hint,
    error,
    done,
    change,
  );

  const others = el('section');
  const othersHeading = el('h3', undefined, 'Other sessions');
  const othersHint = el('p', 'hint', 'Signs you out in every other browser and device, keeping this one.');
  const signOutOthers = el('button', 'secondary', 'Sign out other sessions');
  signOutOthers.id = 'logout-others';
  signOutOthers.type = 'button';
  const othersSaid = el('p', 'done');
  othersSaid.id = 'logout-others-said';
  othersSaid.setAttribute('role', 'status');
  others.append(othersHeading, othersHint, signOutOthers, othersSaid);

  const blocks = el('section');
  const blocksHeading = el('h3', undefined, 'Blocked users');
  const blocksNone = el('p', 'hint', 'You block nobody. Block someone from the people list.');
  blocksNone.id = 'blocked-none';
  const blocksList = el('ul');
  blocksList.id = 'blocked-list';
  blocks.append(blocksHeading, blocksNone, blocksList);

  const closing = el('form');
  closing.method = 'dialog';
  const close = el('button', 'secondary', 'Close');
  close.type = 'submit';
  closing.append(close);
  dialog.append(title, form, others, blocks, closing);
  document.body.append(dialog);

  // On a phone the bar has room for the glyph alone (style.css): the name is the word shown on a
  // wider screen, given as aria-label too, so that it stays when the word is not drawn.
  const open = el('button');
  open.append(el('span', 'glyph', '👤'), el('span', 'label', 'Account'));
  open.firstElementChild?.setAttribute('aria-hidden', 'true');
  open.setAttribute('aria-label', 'Account');
  open.id = 'account';
  open.type = 'button';
  open.title = 'Change your password, sign out other sessions';
  open.setAttribute('aria-haspopup', 'dialog');
  before.before(open);

  /** Empties what the forms said, and unties the fields from the error. */
  const clear = () => {
    error.textContent = '';
    done.textContent = '';
    othersSaid.textContent = '';
    for (const input of [current, next, repeat]) tieError(input, null);
  };
  const refuse = (text: string, fields: HTMLInputElement[]) => {
    error.textContent = text;
    for (const input of fields) tieError(input, 'password-error');
    fields[0]?.focus();
  };

  open.addEventListener('click', () => {
    clear();
    form.reset();
    dialog.showModal();
    current.focus();
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clear();
    if (next.value !== repeat.value) return refuse('The new passwords do not match.', [repeat]);
    change.disabled = true;
    const answer = await postJson('/api/password', { current: current.value, password: next.value });
    change.disabled = false;
    if (answer?.status === 200) {
      form.reset();
      const ended = answer.body.ended ?? 0;
      done.textContent = `Password changed. ${ended === 0 ? 'No other session was signed in.' : `${sessions(ended)} signed out.`}`;
      return;
    }
    if (answer?.status === 403) return refuse('The current password is wrong.', [current]);
    if (answer?.status === 400) return refuse(refusal(answer, 'Not changed'), [next, repeat]);
    refuse(refusal(answer, 'Not changed'), []);
  });
  signOutOthers.addEventListener('click', async () => {
    clear();
    signOutOthers.disabled = true;
    const answer = await postJson('/api/logout-others', {});
    signOutOthers.disabled = false;
    if (answer?.status === 200) {
      const ended = answer.body.ended ?? 0;
      othersSaid.textContent =
        ended === 0 ? 'No other session was signed in.' : `Signed out ${sessions(ended)}.`;
    } else othersSaid.textContent = refusal(answer, 'Not done');
  });
}
