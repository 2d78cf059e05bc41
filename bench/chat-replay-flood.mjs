#!/usr/bin/env node
// Issue 12, hole 7, measured: accounts open as many WebSockets as the chat lets them, each asks for
// two replays of the whole room (1000 messages of 4000 bytes: about 4 MB each) and never reads. The
// chat must stream replays at the reader's pace, so its memory stays near that of idle sockets.
// Prints the chat process's RSS before and its peak over 10 s (and, with --idle, the same sockets
// without the replays, for comparison).
//
//   npm run build && node bench/chat-replay-flood.mjs [--accounts 25] [--idle]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: { accounts: { type: 'string', default: '25' }, idle: { type: 'boolean' } },
});
const ACCOUNTS = Number(values.accounts);

const serverSource = `
import { startChatServer } from ${JSON.stringify(join(here, '..', 'packages', 'chat', 'dist', 'server', 'chat-server.js'))};
const server = await startChatServer({ port: 0, dbPath: ':memory:', log: () => {}, sweepIntervalMs: 0,
  signUpPerIp: { burst: 1000, perSecond: 1000 }, limits: { replayLimit: 2000 } });
const text = 'x'.repeat(4000);
// The store takes messages from members only.
await server.backend.rooms.join('seed', 'general', 9);
for (let i = 1; i <= 1000; i++)
  await server.backend.rooms.appendEvent({ type: 'message', room: 'general', user: 'seed', clientId: 'c' + i, text, ts: i });
console.log('READY ' + server.url);
`;
const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
const child = spawn(process.execPath, ['--input-type=module', '-e', serverSource], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const origin = await new Promise((resolve) =>
  child.stdout.on('data', (d) => {
    const m = /READY (\S+)\//.exec(String(d));
    if (m) resolve(m[1]);
  }),
);
const before = rss(child.pid);
let open = 0;
let refused = 0;
const sockets = [];
for (let a = 0; a < ACCOUNTS; a++) {
  const res = await fetch(`${origin}/api/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: `flood${a}`, password: 'flood password' }),
  });
  const cookie = res.headers.get('set-cookie').split(';')[0];
  // Two more than the per-user cap: those are refused.
  for (let s = 0; s < 10; s++) {
    await new Promise((resolve) => {
      const ws = new WebSocket(`${origin.replace('http', 'ws')}/ws`, { headers: { cookie } });
      ws.on('unexpected-response', (_req, r) => {
        refused++;
        r.resume();
        resolve();
      });
      ws.on('error', () => resolve());
      ws.on('open', () => {
        open++;
        sockets.push(ws);
        ws.send(JSON.stringify({ v: 2, type: 'hello' }));
        if (!values.idle)
          for (let k = 0; k < 2; k++)
            ws.send(JSON.stringify({ v: 2, type: 'sync', room: 'general', after: 0 }));
        ws.pause(); // never read
        resolve();
      });
    });
  }
}
let peak = 0;
for (let i = 0; i < 20; i++) {
  await new Promise((r) => setTimeout(r, 500));
  peak = Math.max(peak, rss(child.pid));
}
console.log(
  `${ACCOUNTS} accounts, ${open} sockets open, ${refused} refused (429); ${values.idle ? 'idle' : 'two unread ~4 MB replays each'}: ` +
    `chat RSS ${before.toFixed(0)} MB before, peak ${peak.toFixed(0)} MB over 10 s`,
);
for (const ws of sockets) ws.terminate();
child.kill();
