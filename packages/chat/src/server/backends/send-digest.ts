/**
 * What makes two sends under one client id the same message: a client id is an idempotency key
 * (per sender and room), so a resend must carry what the first send carried. The stores keep this
 * digest beside the id (SQLite: the message row; Redis: a key beside the dedup key) and compare
 * it, so a resend with another text, reply target or set of files is refused ('id_reused')
 * instead of being acknowledged as the earlier message.
 *
 * It is taken from the send as it was first stored, not from the message as it is now: an edit or
 * a delete of the message does not turn a genuine resend into a refused one. Mentions are left out
 * (the server derives them from the text and the room's members). The room and the sender are the
 * key itself.
 */
import { createHash } from 'node:crypto';

export interface SendContent {
  text: string;
  replyTo?: number;
  /** The ids of the files, in the order sent. */
  attachments?: readonly { id: string }[];
}

/** sha256 of the content, base64url (43 characters). */
export function sendDigest(content: SendContent): string {
  const canonical = JSON.stringify([
    content.text,
    content.replyTo ?? null,
    (content.attachments ?? []).map((a) => a.id),
  ]);
  return createHash('sha256').update(canonical).digest('base64url');
}

/** The digest of a send as the client sent it (its files by id): RoomStore.storedSend compares it. */
export function sendDigestOfIds(content: {
  text: string;
  replyTo?: number;
  attachments?: readonly string[];
}): string {
  return sendDigest({
    text: content.text,
    ...(content.replyTo === undefined ? {} : { replyTo: content.replyTo }),
    attachments: (content.attachments ?? []).map((id) => ({ id })),
  });
}
