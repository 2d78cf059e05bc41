/**
 * core/index.ts: the `riptide/core` entry (package.json exports "./core"). It re-exports the
 * I/O-free protocol: every run-time export of its modules, the same objects, and nothing of the
 * layers above.
 */
import { describe, expect, it } from 'vitest';
import * as close from '../../src/core/close.js';
import * as errors from '../../src/core/errors.js';
import * as frame from '../../src/core/frame.js';
import * as core from '../../src/core/index.js';
import * as mask from '../../src/core/mask.js';
import * as protocol from '../../src/core/protocol.js';
import * as receiver from '../../src/core/receiver.js';
import * as sender from '../../src/core/sender.js';
import * as utf8 from '../../src/core/utf8.js';

const exported = new Map<string, unknown>(Object.entries(core));

const WHOLE = { close, errors, frame, mask, protocol, sender, utf8 };

describe('riptide/core', () => {
  it('re-exports every run-time export of the core modules, as the same objects', () => {
    for (const [name, mod] of Object.entries(WHOLE))
      for (const [key, value] of Object.entries(mod)) expect(exported.get(key), `${name}.${key}`).toBe(value);
    expect(core.Receiver).toBe(receiver.Receiver);
  });

  it('exports nothing else (no word-view cache, no Node layer)', () => {
    const expected = new Set(['Receiver', ...Object.values(WHOLE).flatMap((m) => Object.keys(m))]);
    expect(Object.keys(core).sort()).toEqual([...expected].sort());
    expect(Object.keys(core)).not.toContain('wordView');
  });

  it('gives what the README and bench import from it', () => {
    expect(typeof core.Protocol).toBe('function');
    expect(core.State.OPEN).toBe(1);
    expect(typeof core.ProtocolError).toBe('function');
  });
});
