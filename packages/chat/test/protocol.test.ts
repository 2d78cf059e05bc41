import { describe, expect, it } from 'vitest';
import { parseClientMessage } from '../src/server/protocol.js';

describe('parseClientMessage', () => {
  it('accepts every documented client message type', () => {
    const valid = [
      { v: 1, type: 'hello', rooms: { general: 12 } },
      { v: 1, type: 'hello' },
      { v: 1, type: 'send', id: 'k3J9', room: 'general', text: 'hi' },
      { v: 1, type: 'edit', ref: 'e1', room: 'general', seq: 3, text: 'hi!' },
      { v: 1, type: 'delete', room: 'general', seq: 3 },
      { v: 1, type: 'history', room: 'general', before: 51 },
      { v: 1, type: 'sync', room: 'general', after: 0 },
      { v: 1, type: 'typing', room: 'general' },
      { v: 1, type: 'read', room: 'general', seq: 4 },
      { v: 1, type: 'rooms' },
      { v: 1, type: 'create', room: 'new-room_1' },
      { v: 1, type: 'join', room: 'general' },
      { v: 1, type: 'leave', room: 'general' },
    ];
    for (const m of valid)
      expect(parseClientMessage(JSON.stringify(m), 4096), JSON.stringify(m)).toEqual({
        ok: true,
        message: m,
      });
  });

  it('reports the ref of an invalid request so the client can match the error', () => {
    expect(
      parseClientMessage('{"v":1,"type":"send","id":"m1","room":"general","text":""}', 4096),
    ).toMatchObject({
      ok: false,
      code: 'bad_message',
      ref: 'm1',
    });
    expect(parseClientMessage('{"v":1,"type":"join","ref":"r","room":"-x"}', 4096)).toMatchObject({
      ok: false,
      code: 'bad_room_name',
      ref: 'r',
    });
  });

  it('measures the text limit in UTF-8 bytes', () => {
    const at = JSON.stringify({ v: 1, type: 'send', id: 'a', room: 'r', text: '€'.repeat(3) }); // 9 bytes
    expect(parseClientMessage(at, 9).ok).toBe(true);
    expect(parseClientMessage(at, 8)).toMatchObject({ ok: false, code: 'text_too_long' });
  });

  it('rejects prototype tricks and wrong types', () => {
    expect(parseClientMessage('{"v":1,"type":"toString"}', 10)).toMatchObject({ code: 'unknown_type' });
    expect(parseClientMessage('{"v":1,"type":"rooms","__proto__":{}}', 10)).toMatchObject({
      code: 'bad_message',
    });
    expect(parseClientMessage('{"v":1,"type":"hello","rooms":{"general":-1}}', 10)).toMatchObject({
      code: 'bad_message',
    });
    expect(parseClientMessage('{"v":1,"type":"read","room":"general","seq":"4"}', 10)).toMatchObject({
      code: 'bad_message',
    });
  });
});
