/**
 * The chat served with a certificate, in Chromium: the page arrives over HTTP/2 and the page's
 * WebSocket rides that same connection as an RFC 8441 stream (Debian's chromium opens WebSockets
 * that way when the server offers SETTINGS_ENABLE_CONNECT_PROTOCOL). Checked on the server side:
 * the extended CONNECT streams the HTTP/2 server received.
 */
import type * as http2 from 'node:http2';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, selfSignedCertificate, startTestServer } from '../helpers.js';
import { launch, messageTexts, sendMessage, signIn } from './browser.js';

let browser: Browser;
let tls: { cert: Buffer; key: Buffer };

beforeAll(async () => {
  tls = selfSignedCertificate();
  // The certificate is self-signed: the browser is told to take it.
  browser = await launch(['--ignore-certificate-errors']);
});
afterAll(async () => {
  await browser?.close();
});
afterEach(cleanup);

describe('chat page over HTTP/2', () => {
  it("Chromium's WebSocket arrives as a stream of the page's HTTP/2 connection, and the chat works", async () => {
    const server = await startTestServer({ tls });
    const connects: string[] = [];
    let sessions = 0;
    server.http.on('session', () => sessions++);
    server.http.on('stream', (_s: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      if (headers[':method'] === 'CONNECT') connects.push(`${headers[':protocol']} ${headers[':path']}`);
    });

    const alice = await signIn(browser, server.origin, 'alice');
    const bob = await signIn(browser, server.origin, 'bob');
    // The page itself came over HTTP/2...
    const protocol = await alice.page.evaluate(
      () => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol,
    );
    expect(protocol).toBe('h2');
    // ...and each page's WebSocket was an extended CONNECT on an HTTP/2 connection, not a new
    // HTTP/1.1 connection (two browser contexts: two connections, one per user).
    expect(connects).toEqual(['websocket /ws', 'websocket /ws']);
    expect(sessions).toBe(2);

    await sendMessage(alice.page, 'Hello over one connection');
    await bob.page.waitForSelector('#message-list li.message:not(.pending)');
    expect(await messageTexts(bob.page)).toEqual(['Hello over one connection']);
    await sendMessage(bob.page, 'Received, over a stream');
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#message-list li.message:not(.pending)').length === 2,
    );
    expect(await messageTexts(alice.page)).toEqual(['Hello over one connection', 'Received, over a stream']);
    await alice.context.close();
    await bob.context.close();
  });
});
