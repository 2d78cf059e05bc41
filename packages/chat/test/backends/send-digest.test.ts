/**
 * server/backends/send-digest.ts: what a resend under a used client id must match. Equal content
 * gives the equal digest; any change of text, reply target or files (or their order) another.
 * The stores' use of it (id_reused): the store contract in backends/store-contract.ts.
 */
import { describe, expect, it } from 'vitest';
import { sendDigest, sendDigestOfIds } from '../../src/server/backends/send-digest.js';

describe('sendDigest', () => {
  it('is sha256 in base64url: 43 characters, deterministic', () => {
    const d = sendDigest({ text: 'hi' });
    expect(d).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(sendDigest({ text: 'hi' })).toBe(d);
  });

  it('an absent reply or file list is the same as none', () => {
    expect(sendDigest({ text: 'hi', attachments: [] })).toBe(sendDigest({ text: 'hi' }));
    expect(sendDigest({ text: 'hi', replyTo: undefined })).toBe(sendDigest({ text: 'hi' }));
  });

  it('differs for another text, reply target, file, or order of files', () => {
    const base = { text: 'hi', replyTo: 3, attachments: [{ id: 'a' }, { id: 'b' }] };
    const digests = [
      sendDigest(base),
      sendDigest({ ...base, text: 'hi ' }),
      sendDigest({ ...base, replyTo: 4 }),
      sendDigest({ ...base, replyTo: undefined }),
      sendDigest({ ...base, attachments: [{ id: 'a' }] }),
      sendDigest({ ...base, attachments: [{ id: 'b' }, { id: 'a' }] }),
    ];
    expect(new Set(digests).size).toBe(digests.length);
  });

  it('cannot be fooled by moving characters between fields (the parts are delimited)', () => {
    expect(sendDigest({ text: 'a', attachments: [{ id: 'bc' }] })).not.toBe(
      sendDigest({ text: 'ab', attachments: [{ id: 'c' }] }),
    );
    expect(sendDigest({ text: '1', replyTo: 2 })).not.toBe(sendDigest({ text: '12' }));
  });
});

describe('sendDigestOfIds', () => {
  it('is the digest of the same send given by file ids', () => {
    expect(sendDigestOfIds({ text: 't', replyTo: 1, attachments: ['x', 'y'] })).toBe(
      sendDigest({ text: 't', replyTo: 1, attachments: [{ id: 'x' }, { id: 'y' }] }),
    );
    expect(sendDigestOfIds({ text: 't' })).toBe(sendDigest({ text: 't' }));
  });
});
