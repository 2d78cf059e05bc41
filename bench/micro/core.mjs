// The library's own work per message, without sockets or a kernel: the protocol core parses
// client frames and queues the echoes, and the output is joined as the Node layer's flush
// would. It prints the process's CPU time per message, which a busy machine disturbs much less
// than wall-clock throughput; run it before and after a change to core/ (several times, and
// with --cpu-prof for where the time goes):
//
//   node bench/micro/core.mjs echo64 300000        # CASE ITERATIONS (see CASES)
//
// echo64: one chunk of PER_CHUNK masked 64-byte text frames in, their echoes out, per iteration.
import { Protocol } from 'riptide/core';

const PER_CHUNK = 10;

function maskedFrame(opcode, payload, key) {
  const len = payload.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const f = Buffer.alloc(head + 4 + len);
  f[0] = 0x80 | opcode;
  if (len < 126) f[1] = 0x80 | len;
  else if (len < 65536) {
    f[1] = 0x80 | 126;
    f.writeUInt16BE(len, 2);
  } else {
    f[1] = 0x80 | 127;
    f.writeBigUInt64BE(BigInt(len), 2);
  }
  key.copy(f, head);
  for (let i = 0; i < len; i++) f[head + 4 + i] = payload[i] ^ key[i & 3];
  return f;
}

/** A server-side Protocol whose sink echoes every message, as bench/servers/riptide-echo.mjs. */
function echoServer() {
  const sink = {
    proto: null,
    onMessage(data, isBinary) {
      this.proto.sendData(isBinary ? 2 : 1, data, true, false);
    },
    onPing() {},
    onPong() {},
    onClose() {},
    onError(e) {
      throw e;
    },
  };
  sink.proto = new Protocol(sink, { role: 'server' });
  return sink.proto;
}

const CASES = {
  /** 10 text frames of 64 B per chunk, echoed: scenario 1's per-message work. */
  echo64: () => {
    const key = Buffer.from([1, 2, 3, 4]);
    const template = Buffer.concat(
      Array.from({ length: PER_CHUNK }, (_, i) =>
        maskedFrame(1, Buffer.from(`${String(i).padStart(16, '0')}${'x'.repeat(48)}`), key),
      ),
    );
    const proto = echoServer();
    return () => {
      const chunk = Buffer.allocUnsafe(template.length);
      template.copy(chunk);
      proto.receive(chunk);
      // As the outbox's flush: one buffer is written as is, several are joined.
      const total = proto.outputBytes;
      const out = proto.takeOutput();
      return (out.length === 1 ? out[0] : Buffer.concat(out, total)).length;
    };
  },
  /** One 1 MiB binary frame arriving in 64 KiB chunks (as Node reads), echoed. */
  echo1m: () => {
    const key = Buffer.from([9, 8, 7, 6]);
    const frame = maskedFrame(2, Buffer.alloc(1 << 20, 0x61), key);
    const proto = echoServer();
    return () => {
      let n = 0;
      for (let off = 0; off < frame.length; off += 65536) {
        const chunk = Buffer.allocUnsafe(Math.min(65536, frame.length - off));
        frame.copy(chunk, 0, off, off + chunk.length);
        proto.receive(chunk);
        const out = proto.takeOutput();
        if (out !== null) n += out.length;
      }
      return n;
    };
  },
};

const name = process.argv[2] ?? 'echo64';
const iterations = Number(process.argv[3] ?? 100000);
if (!(name in CASES) || !(iterations > 0)) {
  console.error(`usage: node bench/micro/core.mjs ${Object.keys(CASES).join('|')} ITERATIONS`);
  process.exit(2);
}
const step = CASES[name]();
let sink = 0;
const t0 = process.cpuUsage();
for (let i = 0; i < iterations; i++) sink += step();
const t = process.cpuUsage(t0);
const perMsg = name === 'echo64' ? PER_CHUNK : 1;
console.log(
  JSON.stringify({
    case: name,
    iterations,
    cpu_ns_per_msg: ((t.user + t.system) * 1000) / (iterations * perMsg),
    sink,
  }),
);
