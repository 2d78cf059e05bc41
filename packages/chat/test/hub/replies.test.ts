/**
 * server/hub/replies.ts: the one place that puts `ref` (and a send's `id`) on what goes back.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../src/server/hub/connection.js';
import { encode, errorMessage, reply } from '../../src/server/hub/replies.js';
import { PROTOCOL_VERSION, type ServerMessage } from '../../src/shared/protocol.js';

describe('errorMessage', () => {
  it('an error with the protocol version, its code and message', () => {
    expect(JSON.parse(errorMessage('bad_message', 'no'))).toEqual({
      v: PROTOCOL_VERSION,
      type: 'error',
      code: 'bad_message',
      message: 'no',
    });
  });

  it('carries ref, id and retryAfterMs when given, and leaves them out when undefined', () => {
    expect(
      JSON.parse(errorMessage('rate_limited', 'slow down', { ref: 'r1', id: 'c1', retryAfterMs: 500 })),
    ).toEqual({
      v: PROTOCOL_VERSION,
      type: 'error',
      code: 'rate_limited',
      message: 'slow down',
      ref: 'r1',
      id: 'c1',
      retryAfterMs: 500,
    });
    const bare = errorMessage('bad_message', 'no', {
      ref: undefined,
      id: undefined,
      retryAfterMs: undefined,
    });
    expect(Object.keys(JSON.parse(bare))).toEqual(['v', 'type', 'code', 'message']);
    // 0 is a value, not an absence.
    expect(JSON.parse(errorMessage('rate_limited', 'x', { retryAfterMs: 0 })).retryAfterMs).toBe(0);
  });
});

describe('reply', () => {
  const sent: string[] = [];
  const conn = { write: (payload: string) => sent.push(payload) > 0 } as unknown as Connection;

  it("writes the message with the request's ref", () => {
    sent.length = 0;
    reply(conn, 'r7', { v: PROTOCOL_VERSION, type: 'pong' } as unknown as ServerMessage);
    expect(sent.map((s) => JSON.parse(s))).toEqual([{ v: PROTOCOL_VERSION, type: 'pong', ref: 'r7' }]);
  });

  it('writes it as it is for a request without ref', () => {
    sent.length = 0;
    const message = { v: PROTOCOL_VERSION, type: 'pong' } as unknown as ServerMessage;
    reply(conn, undefined, message);
    expect(sent).toEqual([encode(message)]);
    expect('ref' in JSON.parse(sent[0])).toBe(false);
  });
});
