/**
 * Attachments in the hub: a `send` with `attachments` claims the uploads before the message is
 * stored (so it carries their descriptions), the store's append binds them to its seq in the same
 * step (ports.ts, AttachmentStore), or the hub releases them if the send is refused (a refused
 * message leaves nothing behind); a `delete` frees the deleted message's files. The hub binds
 * nothing itself: a bind after the append could only fail or never run (the node killed between
 * the two), and a resend answered as a duplicate names the files its first append bound. The uploads themselves are HTTP (http/attachments.ts).
 */
import type { Attachment, ClientMessage } from '../../shared/protocol.js';
import type { Backend } from '../ports.js';

type Send = Extract<ClientMessage, { type: 'send' }>;

/**
 * The files of a send: [] without attachments, null if one id is not the user's unused upload to
 * this room (or one claimed by this same message: a resend).
 */
export function claimAttachments(backend: Backend, user: string, msg: Send): Promise<Attachment[] | null> {
  if (!msg.attachments?.length) return Promise.resolve([]);
  return backend.attachments.claim(msg.attachments, user, msg.room, msg.id);
}

/** The send was refused after its files were claimed: give them back, so nothing of it stays. */
export async function releaseAttachments(backend: Backend, user: string, msg: Send): Promise<void> {
  if (msg.attachments?.length) await backend.attachments.release(msg.attachments, user, msg.id);
}
