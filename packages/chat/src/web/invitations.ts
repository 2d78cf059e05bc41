/**
 * Pending invitations to private rooms, at the top of the room list: "alice invited you to
 * #secret" with Accept (joins and opens the room) and Decline. The list is the state's
 * (room-state.ts: welcome, `invitation`, `uninvited`); a new one while the tab is hidden is a
 * desktop notification when the bell is on, as a direct message is. Names are text, never HTML.
 */
import type { Invitation } from '../shared/protocol.js';
import { byId, el } from './dom.js';
import { notificationsOn } from './notify.js';
import type { ChatState } from './room-state.js';

export interface InvitationActions {
  accept(room: string): void;
  decline(room: string): void;
}

/** What the page says of an invitation (its list item, its notification, the live region). */
export function invitationText(invitation: Pick<Invitation, 'room' | 'by'>): string {
  return `${invitation.by} invited you to #${invitation.room}`;
}

/** The section above the rooms, made once (kept out of the page's static markup). */
function section(): { box: HTMLElement; list: HTMLUListElement } {
  const existing = document.getElementById('invitations');
  if (existing) return { box: existing, list: existing.querySelector('ul') as HTMLUListElement };
  const box = el('section');
  box.id = 'invitations';
  box.setAttribute('aria-labelledby', 'invitations-title');
  const title = el('h2', undefined, 'Invitations');
  title.id = 'invitations-title';
  const list = el('ul');
  list.id = 'invitation-list';
  box.append(title, list);
  const panel = byId('rooms-panel');
  panel.insertBefore(box, panel.querySelector('h2'));
  return { box, list };
}

export function renderInvitations(state: ChatState, actions: InvitationActions): void {
  const { box, list } = section();
  const pending = [...state.invitations.values()].sort((a, b) => a.ts - b.ts);
  box.hidden = pending.length === 0;
  list.replaceChildren();
  for (const invitation of pending) {
    const li = el('li', 'invitation');
    li.dataset.room = invitation.room;
    const text = el('span', 'text', invitationText(invitation));
    const accept = el('button', 'accept', 'Accept');
    accept.type = 'button';
    accept.setAttribute('aria-label', `Accept: ${invitationText(invitation)}`);
    accept.addEventListener('click', () => actions.accept(invitation.room));
    const decline = el('button', 'decline secondary', 'Decline');
    decline.type = 'button';
    decline.setAttribute('aria-label', `Decline: ${invitationText(invitation)}`);
    decline.addEventListener('click', () => actions.decline(invitation.room));
    li.append(text, accept, decline);
    list.append(li);
  }
}

/** A new invitation while the tab is hidden: a notification, if the user turned them on. */
export function notifyInvitation(invitation: Invitation): void {
  if (!document.hidden || !notificationsOn()) return;
  const note = new Notification(invitationText(invitation), {
    body: 'Open the chat to accept or decline.',
    tag: `invitation:${invitation.room}`,
    icon: '/favicon.svg',
  });
  note.onclick = () => {
    window.focus();
    note.close();
  };
}
