/**
 * Building replies: the one place that puts `ref` (and a send's `id`) on what goes back.
 */
import { type ErrorCode, PROTOCOL_VERSION, type ServerMessage } from '../../shared/protocol.js';
import type { Connection } from './connection.js';

export const encode = (message: ServerMessage): string => JSON.stringify(message);

export interface ErrorDetails {
  ref?: string | undefined;
  id?: string | undefined;
  retryAfterMs?: number | undefined;
}

export function errorMessage(code: ErrorCode, message: string, details: ErrorDetails = {}): string {
  const reply: ServerMessage = { v: PROTOCOL_VERSION, type: 'error', code, message };
  if (details.ref !== undefined) reply.ref = details.ref;
  if (details.id !== undefined) reply.id = details.id;
  if (details.retryAfterMs !== undefined) reply.retryAfterMs = details.retryAfterMs;
  return encode(reply);
}

/** The reply to a request: `message` with the request's ref, if it had one. */
export function reply(conn: Connection, ref: string | undefined, message: ServerMessage): void {
  if (ref !== undefined) (message as { ref?: string }).ref = ref;
  conn.write(encode(message));
}
