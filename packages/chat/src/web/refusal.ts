/**
 * What the page does with a `send` the server answered with an error (docs/chat-protocol.md,
 * "Error codes"), and how it says so. No DOM: outbox.ts and conversation.ts use it, tests drive it.
 *
 * - `retry`: nothing was done and the same send can succeed later: the outbox holds the queue and
 *   sends it again under the same id (`rate_limited`, `unavailable`, `not_ready`).
 * - `drop`: the room itself refused it: the user left it or it was deleted (`not_member`,
 *   `no_such_room`, `bad_room_name`). The page has no place left to show the message, so it goes
 *   as the room's unsent messages go when the page learns of the leave otherwise (outbox.ts
 *   `onDropped`): the user is told, `droppedNotice`, and offered their text. So does any refusal
 *   but a wait of a message whose room the page no longer has, sent only to ask whether it was
 *   stored (outbox.ts `outside`: in flight when the room went, or answered `internal` before): the
 *   page has no room left to show it in, so it is told at once, never kept unseen.
 * - `keep`: anything else refused this message for good. It stays in the outbox, shown where it
 *   was typed as not sent with the reason, until the user edits (its text goes back to the
 *   composer), discards, or — where sending it unchanged can succeed — sends it again.
 */
import type { Pending } from './outbox.js';

export type RefusalHandling = 'retry' | 'drop' | 'keep';

const RETRY = new Set(['rate_limited', 'unavailable', 'not_ready']);
const DROP = new Set(['not_member', 'no_such_room', 'bad_room_name']);
/**
 * Sending the same message again is refused the same way: the user has to change it, or (for
 * `not_accepted`: the other user of a direct message blocks this one) cannot send it there at all.
 */
const NO_SEND_AGAIN = new Set(['text_too_long', 'bad_message', 'not_found', 'not_accepted']);

export function refusalHandling(code: string): RefusalHandling {
  if (RETRY.has(code)) return 'retry';
  if (DROP.has(code)) return 'drop';
  return 'keep';
}

/**
 * "Send again" is offered only where the unchanged message can be taken: `id_reused` (sent again
 * under a new id), `internal` (a server fault: sent again under the same id, which the server
 * recognises if it stored it after all) and codes this page does not know. Not after
 * `not_accepted`: the block refuses every message there until it is lifted, which this user is
 * not told of; Edit and Discard remain, as after the other final refusals.
 */
export function canSendAgain(code: string): boolean {
  return !NO_SEND_AGAIN.has(code);
}

/**
 * A `not_found` answering a send names its reply target or its files (the server checks the
 * files first). Only its words say which when the message has both.
 */
export function missingPart(
  item: Pick<Pending, 'replyTo' | 'attachments'>,
  message: string,
): 'reply' | 'files' {
  const files = (item.attachments?.length ?? 0) > 0;
  if (!files) return 'reply';
  if (item.replyTo === undefined) return 'files';
  return /\breply\b/.test(message) ? 'reply' : 'files';
}

/** The reason shown under a kept message ("Not sent: …"), in the user's words, not the protocol's. */
export function refusalReason(
  item: Pick<Pending, 'replyTo' | 'attachments'>,
  code: string,
  message: string,
): string {
  switch (code) {
    case 'id_reused':
      return 'another of your messages was already sent under its id. Send it again as a new message, or discard it.';
    case 'text_too_long':
      return `it is too long for the server (${message}). Edit it to shorten it.`;
    case 'not_found':
      return missingPart(item, message) === 'reply'
        ? 'the message it replies to was deleted. Edit it to send it without the reply.'
        : 'its files are no longer waiting on the server (an upload is kept for an hour). Edit it and attach them again.';
    case 'bad_message':
      return `the server cannot take it as it is (${message}). Edit it, or discard it.`;
    case 'internal':
      return 'the server failed while taking it. Send it again: if it was stored after all, it is not stored twice.';
    default:
      return message;
  }
}

/**
 * What the page says when the unsent messages of a room the user is no longer in (left or
 * deleted, maybe in another tab) are dropped: which room, how many; and whether the composer's
 * draft for that room (text typed there, not sent: drafts.ts) was among them.
 */
export function droppedNotice(label: string, count: number, draft = false): string {
  const end = 'not sent: you are no longer in that room.';
  if (count === 0) return `The text you were writing to ${label} was ${end}`;
  const what = count === 1 ? 'A message you wrote' : `${count} messages you wrote`;
  if (draft) return `${what} to ${label}, and the text you were writing there, were ${end}`;
  return `${what} to ${label} ${count === 1 ? 'was' : 'were'} ${end}`;
}
