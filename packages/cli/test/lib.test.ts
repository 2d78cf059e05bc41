/**
 * src/lib.ts: the one place the CLI names its WebSocket library. It hands over riptide's own
 * classes (the commands use ws 8's public API on them), and nothing else.
 */
import * as riptide from 'riptide';
import { describe, expect, it } from 'vitest';
import * as lib from '../src/lib.js';

describe('the CLI names its library in one place', () => {
  it("exports riptide's WebSocket and WebSocketServer, the same classes", () => {
    expect(lib.WebSocket).toBe(riptide.WebSocket);
    expect(lib.WebSocketServer).toBe(riptide.WebSocketServer);
    expect(Object.keys(lib).sort()).toEqual(['WebSocket', 'WebSocketServer']);
  });
});
