/**
 * server/http/origin.ts: the Origin check of the API and of the WebSocket upgrade. The routes'
 * use of it (403 for another site): http/accounts.test.ts and http/upgrade-probe.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { originAllowed } from '../../src/server/http/origin.js';

const req = (headers: Record<string, string>) => ({ headers });

describe('originAllowed', () => {
  it('passes a request without Origin (a program, which carries no victim cookie)', () => {
    expect(originAllowed(req({ host: 'chat.test' }), [])).toBe(true);
  });

  it('passes the page of the same host, over http or https', () => {
    expect(originAllowed(req({ host: 'chat.test:8080', origin: 'http://chat.test:8080' }), [])).toBe(true);
    expect(originAllowed(req({ host: 'chat.test', origin: 'https://chat.test' }), [])).toBe(true);
  });

  it('over HTTP/2, the host is in :authority', () => {
    expect(originAllowed(req({ ':authority': 'chat.test', origin: 'https://chat.test' }), [])).toBe(true);
  });

  it('refuses another site, another port, or a host that only starts the same', () => {
    const allowed: string[] = [];
    expect(originAllowed(req({ host: 'chat.test', origin: 'https://evil.test' }), allowed)).toBe(false);
    expect(originAllowed(req({ host: 'chat.test', origin: 'https://chat.test:444' }), allowed)).toBe(false);
    expect(originAllowed(req({ host: 'chat.test', origin: 'https://chat.test.evil.test' }), allowed)).toBe(
      false,
    );
    expect(originAllowed(req({ origin: 'https://chat.test' }), allowed)).toBe(false);
    expect(originAllowed(req({ host: 'chat.test', origin: 'null' }), allowed)).toBe(false);
  });

  it('passes an origin of the allowlist, exactly as written', () => {
    const allowed = ['https://app.test'];
    expect(originAllowed(req({ host: 'chat.test', origin: 'https://app.test' }), allowed)).toBe(true);
    expect(originAllowed(req({ host: 'chat.test', origin: 'https://app.test/' }), allowed)).toBe(false);
    expect(originAllowed(req({ host: 'chat.test', origin: 'http://app.test' }), allowed)).toBe(false);
  });
});
