/**
 * A request whose peer goes before its body is read whole (a tab closed mid-upload, the page
 * giving up on a stalled upload) is no error of the server's: nothing is logged, no stack trace.
 */
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, register, startTestServer } from '../helpers.js';

afterEach(cleanup);

/**
 * Sends `head` and half the body it announces, then closes; resolves once the server has seen the
 * request end early (its own `error` listener on the request, then one turn of the event loop for
 * the handler's rejection to be dealt with).
 */
async function abortMidBody(server: Server, port: number, head: string): Promise<void> {
  const seen = new Promise<void>((resolve) => {
    server.once('request', (req) => req.once('error', () => setImmediate(resolve)));
  });
  const socket = connect(port, '127.0.0.1', () => {
    socket.write(`${head}Content-Length: 100\r\n\r\n{"name":`);
  });
  // The head is read (the request event) before the close: the body is what is cut short.
  server.once('request', () => socket.destroy());
  await seen;
}

describe('a peer that goes mid-body', () => {
  it('logs nothing for a sign-in or an upload cut short', async () => {
    const lines: string[] = [];
    const server = await startTestServer({ log: (line) => lines.push(line) });
    const cookie = await register(server.origin, 'alice');
    const http = server.http as Server;
    const host = `Host: 127.0.0.1:${server.port}\r\nOrigin: ${server.origin}\r\n`;
    await abortMidBody(
      http,
      server.port,
      `POST /api/login HTTP/1.1\r\n${host}Content-Type: application/json\r\n`,
    );
    await abortMidBody(
      http,
      server.port,
      `POST /api/attachments?room=general&name=a.txt HTTP/1.1\r\n${host}Cookie: ${cookie}\r\nContent-Type: application/octet-stream\r\n`,
    );
    expect(lines).toEqual([]);
  });
});
