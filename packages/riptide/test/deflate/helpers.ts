/**
 * Test helpers for permessage-deflate: a minimal Sec-WebSocket-Extensions parser (the real one is
 * handshake/header-lists.ts; this one only needs to read what negotiation.ts writes and what the
 * tests spell out) and hex conversion.
 */
import { expect } from 'vitest';
import type { ExtensionOffer } from '../../src/deflate/negotiation.js';

export function parseExtensions(header: string): ExtensionOffer[] {
  return header
    .split(',')
    .map((element) => element.trim())
    .filter((element) => element !== '')
    .map((element) => {
      const [name, ...rest] = element.split(';').map((part) => part.trim());
      const params = rest.map((param): [string, string | true] => {
        const eq = param.indexOf('=');
        if (eq === -1) return [param, true];
        let value = param.slice(eq + 1).trim();
        if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
        return [param.slice(0, eq).trim(), value];
      });
      return { name, params };
    });
}

export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/0x/g, '').replace(/[\s,]/g, ''), 'hex');
}

export function toHex(buf: Buffer): string {
  return [...buf].map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(' ');
}

/** Byte equality without vitest's element-by-element deep equality (slow on large Buffers). */
export function expectBytes(actual: unknown, expected: Buffer): void {
  expect(Buffer.isBuffer(actual), `expected a Buffer, got ${String(actual)}`).toBe(true);
  const a = actual as Buffer;
  expect(a.length).toBe(expected.length);
  expect(a.equals(expected), 'bytes differ').toBe(true);
}
