/**
 * handshake/index.ts: the opening handshake as pure functions, in one module. It re-exports the
 * handshake modules, and of syntax.ts only the two predicates (the tables stay internal).
 */
import { describe, expect, it } from 'vitest';
import * as accept from '../../src/handshake/accept.js';
import * as client from '../../src/handshake/client.js';
import * as errors from '../../src/handshake/errors.js';
import * as extendedConnect from '../../src/handshake/extended-connect.js';
import * as headerLists from '../../src/handshake/header-lists.js';
import * as http from '../../src/handshake/http.js';
import * as handshake from '../../src/handshake/index.js';
import * as server from '../../src/handshake/server.js';
import * as syntax from '../../src/handshake/syntax.js';

const exported = new Map<string, unknown>(Object.entries(handshake));

const WHOLE = { accept, client, errors, extendedConnect, headerLists, http, server };

describe('handshake/index.ts', () => {
  it('re-exports every run-time export of the handshake modules, as the same objects', () => {
    for (const [name, mod] of Object.entries(WHOLE))
      for (const [key, value] of Object.entries(mod)) expect(exported.get(key), `${name}.${key}`).toBe(value);
  });

  it('of syntax.ts, only isToken and isFieldValue; nothing else', () => {
    expect(handshake.isToken).toBe(syntax.isToken);
    expect(handshake.isFieldValue).toBe(syntax.isFieldValue);
    const expected = new Set([
      'isToken',
      'isFieldValue',
      ...Object.values(WHOLE).flatMap((m) => Object.keys(m)),
    ]);
    expect(Object.keys(handshake).sort()).toEqual([...expected].sort());
    for (const internal of ['TCHAR', 'FIELD_VALUE_CHAR', 'TARGET_CHAR', 'assertHeader', 'checkExtraHeaders'])
      expect(Object.keys(handshake), internal).not.toContain(internal);
  });
});
