/**
 * server/timeouts.ts: the deadlines set on the chat's HTTP server, plain and with `tls` (HTTP/2
 * and HTTP/1.1 on one port), read back from the server object. A head actually cut off at its
 * deadline is not tested here: node:http checks its deadlines against its own monotonic clock,
 * which no fake timer moves, so such a test would have to wait 15 s of wall-clock time.
 * (The hello deadline is tested through a live server in hub/limits.test.ts.)
 */
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_ATTACHMENT_LIMITS } from '../src/server/http/attachments.js';
import { requestTimeoutMs, TIMEOUTS } from '../src/server/timeouts.js';
import { cleanup, register, selfSignedCertificate, startTestServer, TestClient } from './helpers.js';

afterEach(cleanup);

type Checked = Server & { connectionsCheckingInterval: number };

function deadlines(server: { http: unknown }) {
  const http = server.http as Checked;
  return {
    headersTimeout: http.headersTimeout,
    requestTimeout: http.requestTimeout,
    keepAliveTimeout: http.keepAliveTimeout,
    connectionsCheckingInterval: http.connectionsCheckingInterval,
  };
}

describe('requestTimeoutMs', () => {
  it('allows the head, then the largest upload at 32 KiB/s (5 MiB: 15 s + 160 s)', () => {
    expect(DEFAULT_ATTACHMENT_LIMITS.maxBytes).toBe(5 * 1024 * 1024);
    expect(requestTimeoutMs(DEFAULT_ATTACHMENT_LIMITS.maxBytes)).toBe(175_000);
    expect(requestTimeoutMs(1)).toBe(16_000);
    expect(requestTimeoutMs(64 * 1024 * 1024)).toBe(15_000 + 2048_000);
  });
});

describe("the chat's HTTP server", () => {
  it("replaces node's defaults (60 s for a head, 300 s for a request, checked every 30 s)", async () => {
    const server = await startTestServer({ dbPath: ':memory:' });
    expect(deadlines(server)).toEqual({
      headersTimeout: 15_000,
      requestTimeout: 175_000,
      keepAliveTimeout: 5_000,
      connectionsCheckingInterval: 5_000,
    });
    expect(TIMEOUTS.headersMs).toBe(15_000);
  });

  it('gives requests the time of a larger upload when attachments.maxBytes is raised', async () => {
    const server = await startTestServer({ dbPath: ':memory:', attachments: { maxBytes: 20 * 1024 * 1024 } });
    expect(deadlines(server)).toMatchObject({ headersTimeout: 15_000, requestTimeout: 15_000 + 640_000 });
  });

  it('sets the same deadlines with tls, for the HTTP/1.1 connections it accepts beside HTTP/2', async () => {
    const server = await startTestServer({ dbPath: ':memory:', tls: selfSignedCertificate() });
    expect(server.url.startsWith('https:')).toBe(true);
    expect(deadlines(server)).toEqual({
      headersTimeout: 15_000,
      requestTimeout: 175_000,
      // node's http2 server has no keepAliveTimeout of its own: without ours, an idle HTTP/1.1
      // connection to it stays open.
      keepAliveTimeout: 5_000,
      connectionsCheckingInterval: 5_000,
    });
  });
});

describe('connections that begin nothing', () => {
  it('are closed once a head would have been cut off; one with a WebSocket stays', async () => {
    // node:http's head deadline starts with the head's first byte: a connection that sent nothing
    // was kept for ever, a file descriptor each, for anyone.
    const server = await startTestServer({ dbPath: ':memory:' });
    const cookie = await register(server.origin, 'alice');
    const http = server.http as Server;
    let accepted = 0;
    let changed = () => {};
    http.on('connection', () => {
      accepted++;
      changed();
    });
    // Only the timers: the sockets are real. The deadlines below are set after this.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const silent = connect(Number(new URL(server.origin).port), '127.0.0.1');
      silent.on('error', () => {});
      const closed = new Promise((resolve) => silent.once('close', resolve));
      const ws = await TestClient.join(server.origin, cookie);
      await new Promise<void>((resolve) => {
        changed = () => accepted >= 2 && resolve();
        changed();
      });
      vi.advanceTimersByTime(TIMEOUTS.headersMs + TIMEOUTS.checkIntervalMs);
      await closed;
      await ws.client.barrier();
      expect(ws.client.ws.readyState).toBe(1);
      ws.client.ws.terminate();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('timer options', () => {
  it('refuses a heartbeatMs or sweepIntervalMs longer than a Node timer waits (it would fire every 1 ms)', async () => {
    for (const name of ['heartbeatMs', 'sweepIntervalMs'] as const) {
      await expect(startTestServer({ dbPath: ':memory:', [name]: 2 ** 31 })).rejects.toThrow(
        `startChatServer: ${name} must be at most 2147483647 (ms, the longest a Node timer waits)`,
      );
      const server = await startTestServer({ dbPath: ':memory:', [name]: 2 ** 31 - 1 });
      await server.close();
    }
  });
});
