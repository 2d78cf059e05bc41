/**
 * What the page does with each refusal of a send (docs/chat-protocol.md, "Error codes"), which
 * actions a kept one offers, and the reason it shows.
 */
import { describe, expect, it } from 'vitest';
import {
  canSendAgain,
  droppedNotice,
  missingPart,
  refusalHandling,
  refusalReason,
} from '../../src/web/refusal.js';

const file = { id: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'a.png', type: 'image/png', size: 10 };

describe('refusals of a send', () => {
  it('retries what can succeed unchanged later, drops what its room refused, keeps the rest', () => {
    for (const code of ['rate_limited', 'unavailable', 'not_ready'])
      expect(refusalHandling(code), code).toBe('retry');
    for (const code of ['not_member', 'no_such_room', 'bad_room_name'])
      expect(refusalHandling(code), code).toBe('drop');
    for (const code of [
      'text_too_long',
      'not_found',
      'bad_message',
      'id_reused',
      'internal',
      'not_accepted',
      'new_code',
    ])
      expect(refusalHandling(code), code).toBe('keep');
  });

  it('offers "Send again" only where the unchanged message can be taken', () => {
    for (const code of ['id_reused', 'internal', 'new_code']) expect(canSendAgain(code), code).toBe(true);
    // not_accepted: the other user of the DM blocks this one; it would be refused again (blockleft).
    for (const code of ['text_too_long', 'not_found', 'bad_message', 'not_accepted'])
      expect(canSendAgain(code), code).toBe(false);
  });

  it('tells a missing reply target from missing files', () => {
    expect(missingPart({ replyTo: 3 }, 'no message 3 in general to reply to')).toBe('reply');
    expect(missingPart({ attachments: [file] }, 'attachments must be your unused uploads to this room')).toBe(
      'files',
    );
    expect(missingPart({ replyTo: 3, attachments: [file] }, 'no message 3 in general to reply to')).toBe(
      'reply',
    );
    expect(
      missingPart(
        { replyTo: 3, attachments: [file] },
        'attachments must be your unused uploads to this room',
      ),
    ).toBe('files');
  });

  it('says why in the user\u2019s words, with the server\u2019s where it adds something', () => {
    expect(refusalReason({}, 'text_too_long', 'text is longer than 4096 bytes')).toBe(
      'it is too long for the server (text is longer than 4096 bytes). Edit it to shorten it.',
    );
    expect(refusalReason({ replyTo: 3 }, 'not_found', 'no message 3 in general to reply to')).toMatch(
      /^the message it replies to was deleted/,
    );
    expect(refusalReason({ attachments: [file] }, 'not_found', 'attachments must be …')).toMatch(
      /^its files are no longer waiting on the server/,
    );
    expect(refusalReason({}, 'id_reused', 'id x is already used')).toMatch(/^another of your messages/);
    expect(refusalReason({}, 'new_code', 'something new')).toBe('something new');
  });
  it('names the room and how many messages when a room gone takes unsent ones with it', () => {
    expect(droppedNotice('#random', 1)).toBe(
      'A message you wrote to #random was not sent: you are no longer in that room.',
    );
    expect(droppedNotice('@bob', 3)).toBe(
      '3 messages you wrote to @bob were not sent: you are no longer in that room.',
    );
  });
  it("says so when the composer's draft for a room gone is among what was not sent", () => {
    expect(droppedNotice('#random', 0, true)).toBe(
      'The text you were writing to #random was not sent: you are no longer in that room.',
    );
    expect(droppedNotice('#random', 1, true)).toBe(
      'A message you wrote to #random, and the text you were writing there, were not sent: you are no longer in that room.',
    );
    expect(droppedNotice('@bob', 2, true)).toBe(
      '2 messages you wrote to @bob, and the text you were writing there, were not sent: you are no longer in that room.',
    );
  });
});
