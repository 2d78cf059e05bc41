// What a direct message's send costs the sender's node (hub.ts `send`, MembershipHandlers.reopenDm):
// N messages from alice to bob, each sent after the previous one's ack, on the built server (npm
// run build) with SQLite (a file in a temporary folder) or Redis (a redis-server of its own, on a
// free port). `skip` replaces reopenDm with nothing, to see what the call costs. Prints the time per
// message and, on Redis, the commands per message (INFO commandstats, every command counted).
//
//   flock /tmp/riptide/bench.lock node bench/chat-dm-send.mjs <sqlite|redis> [call|skip] [N]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startChatServer } from '../packages/chat/dist/server/chat-server.js';
import { MembershipHandlers } from '../packages/chat/dist/server/hub/membership.js';
import { connect as connectAs, register as registerAt } from './lib/chat-client.mjs';

const [store = 'sqlite', mode = 'call', count = '2000'] = process.argv.slice(2);
const n = Number(count);
if (mode === 'skip') MembershipHandlers.prototype.reopenDm = async () => {};

const dir = mkdtempSync(join(tmpdir(), 'chat-dm-send-'));
const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

let redisProcess;
let redisUrl;
if (store === 'redis') {
  const port = await freePort();
  redisProcess = spawn('redis-server', ['--port', String(port), '--save', '', '--dir', dir], {
    stdio: 'ignore',
  });
  redisUrl = `redis://127.0.0.1:${port}`;
  for (;;) {
    const probe = new Redis(redisUrl, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      break;
    } catch {
      probe.disconnect();
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

const lifted = { burst: 1e9, perSecond: 1e9 };
const server = await startChatServer({
  port: 0,
  ...(store === 'redis' ? { redis: { url: redisUrl, prefix: 'bench:' } } : { dbPath: join(dir, 'chat.db') }),
  limits: { messageRate: lifted, requestRate: lifted, roomRate: lifted },
  sweepIntervalMs: 0,
  log: () => {},
});
const origin = server.url.replace(/\/$/, '');
const register = (name) => registerAt(origin, name);
const connect = (cookie) => connectAs(origin, cookie);

const alice = await connect(await register('alice'));
await register('bob');
await alice.request({ type: 'hello' });
const room = 'dm:alice:bob';
const opened = await alice.request({ type: 'dm', user: 'bob' });
if (opened.type !== 'joined') throw new Error(JSON.stringify(opened));

const stats = redisUrl ? new Redis(redisUrl) : null;
const commands = async () => {
  const info = await stats.info('commandstats');
  let calls = 0;
  for (const m of info.matchAll(/calls=(\d+)/g)) calls += Number(m[1]);
  return calls;
};
// Warm-up (prepared statements, scripts loaded), not counted.
for (let i = 0; i < 50; i++) await alice.request({ type: 'send', room, id: `w${i}`, text: 'warm' });
const before = stats ? await commands() : 0;
const start = process.hrtime.bigint();
for (let i = 0; i < n; i++) {
  const ack = await alice.request({ type: 'send', room, id: `m${i}`, text: `message ${i}` });
  if (ack.type !== 'ack') throw new Error(JSON.stringify(ack));
}
const ms = Number(process.hrtime.bigint() - start) / 1e6;
const after = stats ? await commands() : 0;
const perCommand = stats ? ` ${((after - before - 1) / n).toFixed(2)} Redis commands/message` : '';
console.log(
  `${store} ${mode}: ${n} DM messages in ${ms.toFixed(0)} ms, ${((ms * 1000) / n).toFixed(0)} µs/message${perCommand}`,
);

alice.ws.close();
stats?.disconnect();
await server.close();
redisProcess?.kill();
rmSync(dir, { recursive: true, force: true });
