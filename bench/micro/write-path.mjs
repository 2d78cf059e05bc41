// CPU time per flush of the Node layer's write path, with and without the direct write to the
// TCP handle (packages/riptide/src/node/internals.ts writeDirect), on one loopback TCP
// connection inside this process: the same flush (outbox.ts writeBatch) of SIZE bytes made
// COUNT times, one per turn of the event loop (as a server flushes once per read), the peer
// reading and discarding. Both modes alternate round by round; the peer's reading is the same in
// both, so the difference is the write path's. Run after `npm run build`:
//
//   node bench/micro/write-path.mjs [SIZE=640] [COUNT=100000] [ROUNDS=5]
import net from 'node:net';
import { overrideProbes } from '../../packages/riptide/dist/esm/node/internals.js';
import { writeBatch } from '../../packages/riptide/dist/esm/node/outbox.js';

const SIZE = Number(process.argv[2] ?? 640);
const COUNT = Number(process.argv[3] ?? 100_000);
const ROUNDS = Number(process.argv[4] ?? 5);

const server = net.createServer();
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const accepted = new Promise((r) => server.once('connection', r));
const peer = net.connect(server.address().port, '127.0.0.1');
peer.on('data', () => {});
const socket = await accepted;
socket.setNoDelay(true);

const data = Buffer.alloc(SIZE, 0x61);
const out = [data];

async function run(count) {
  for (let i = 0; i < count; i++) {
    writeBatch(socket, out, SIZE, null);
    // One flush per turn of the event loop, after the peer has read (as a server between reads).
    if ((i & 15) === 15) await new Promise((r) => setImmediate(r));
  }
  while (socket.writableLength > 0) await new Promise((r) => socket.once('drain', r));
}

// Warm-up both paths (the first direct write captures Node's request class).
await run(20_000);
const restoreOff = overrideProbes({ directWrite: false });
await run(20_000);
restoreOff();

const results = { direct: [], socket: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const mode of r % 2 === 0 ? ['direct', 'socket'] : ['socket', 'direct']) {
    const restore = mode === 'socket' ? overrideProbes({ directWrite: false }) : () => {};
    const t0 = process.cpuUsage();
    await run(COUNT);
    const t = process.cpuUsage(t0);
    restore();
    results[mode].push({ user: t.user / COUNT, system: t.system / COUNT });
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(
  `flush of ${SIZE} B, ${COUNT} per round, ${ROUNDS} rounds: process CPU µs per flush (median; writer and reader)`,
);
for (const [mode, rs] of Object.entries(results)) {
  const u = median(rs.map((x) => x.user));
  const s = median(rs.map((x) => x.system));
  console.log(
    `${mode.padEnd(7)} user ${u.toFixed(3)}  system ${s.toFixed(3)}  total ${(u + s).toFixed(3)}  (rounds: ${rs.map((x) => (x.user + x.system).toFixed(2)).join(' ')})`,
  );
}
peer.destroy();
socket.destroy();
server.close();
