/**
 * docs/chat-protocol.md, run: every `chat` block against a fresh server on SQLite (with a fake
 * clock), the bot of section 9 against a server of its own, and a check that the examples cover
 * every request type, server message type and error code. test/redis/protocol-doc.test.ts runs the
 * same blocks on two nodes sharing Redis.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/server/clock.js';
import { CLIENT_TYPES } from '../src/server/hub/validate.js';
import { ERROR_CODES, SERVER_MESSAGE_TYPES } from '../src/shared/protocol.js';
import { cleanup, register, startTestServer, TestClient, waitFor } from './helpers.js';
import { parseDoc } from './protocol-doc/parse.js';
import { type Coverage, runBlock } from './protocol-doc/runner.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const DOC = parseDoc(readFileSync(join(root, 'docs', 'chat-protocol.md'), 'utf8'));

afterEach(cleanup);

const coverage: Coverage = { sent: new Set(), received: new Set(), errors: new Set() };

describe('docs/chat-protocol.md on SQLite', () => {
  for (const block of DOC.blocks) {
    it(`the example at line ${block.line}`, async () => {
      await runBlock(
        block,
        async (limits, admins) => {
          const clock = new ManualClock(1_796_000_000_000);
          const server = await startTestServer({ clock, limits, admins });
          return { origin: () => server.origin, clock, close: async () => {} };
        },
        coverage,
      );
    });
  }

  afterAll(() => {
    // Only meaningful when every block ran (not with -t filtering one).
    if (coverage.sent.size === 0) return;
    // service and unavailable need storage to go away (test/redis/outage.test.ts,
    // test/backends/sqlite/health.test.ts); internal is a bug.
    const untested = new Set(['service', 'unavailable', 'internal']);
    expect([...CLIENT_TYPES].filter((t) => !coverage.sent.has(t))).toEqual([]);
    expect(SERVER_MESSAGE_TYPES.filter((t) => !coverage.received.has(t) && !untested.has(t))).toEqual([]);
    expect(ERROR_CODES.filter((c) => !coverage.errors.has(c) && !untested.has(c))).toEqual([]);
  });
});

describe('the bot of section 9', () => {
  it('signs up on its first run, joins, and echoes a message', async () => {
    const bot = DOC.code.find((c) => c.lang === 'js');
    expect(bot).toBeDefined();
    const server = await startTestServer();
    const alice = await TestClient.user(server.origin, 'alice');
    const child = spawn(process.execPath, ['--input-type=module', '-e', bot?.source ?? ''], {
      cwd: root,
      env: { ...process.env, CHAT_ORIGIN: server.origin },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.stderr.on('data', (c) => {
      out += c;
    });
    try {
      await alice.next('presence', (m) => m.user === 'echobot' && m.online);
      await waitFor(() => out.includes('echobot ready in general'), `the bot's greeting (it wrote: ${out})`);
      await alice.request('ack', { type: 'send', id: 'q', room: 'general', text: 'ping?' });
      const echo = await alice.next('message', (m) => m.message.user === 'echobot');
      expect(echo.message.text).toBe('echo: ping?');
      // The account exists now: a second run signs in instead.
      expect((await register(server.origin, 'echobot').catch((e: Error) => e.message)) as string).toMatch(
        /409/,
      );
    } finally {
      child.kill();
    }
  });
});
