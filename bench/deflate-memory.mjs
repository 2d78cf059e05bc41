// Measures the memory permessage-deflate costs per connection, for several settings.
//
// Each setting runs in a fresh child process (node --expose-gc): it creates N server-side codecs
// (one per simulated connection), has each receive one compressed message and send one, then
// reports the RSS and arrayBuffers growth per connection after a full GC. zlib's memory is
// malloc'ed outside the V8 heap, so RSS is the number that matters; arrayBuffers shows that no
// output buffers are retained.
//
// Run (after `npm run build`):  node bench/deflate-memory.mjs [connections=2000]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
const dist = new URL('../packages/riptide/dist/esm/deflate/', import.meta.url);

const SETTINGS = {
  'no compression negotiated': null,
  // threshold applies only without context takeover (as in ws 8): with the server's default,
  // server_no_context_takeover, messages below it are sent uncompressed and allocate nothing.
  'negotiated, messages below threshold (idle, server_no_context_takeover)': {
    options: {},
    params: { serverNoContextTakeover: true },
    small: true,
  },
  'context takeover both ways, 15-bit windows, memLevel 8 (ws default)': { options: {}, params: {} },
  'server_no_context_takeover (riptide server default)': {
    options: {},
    params: { serverNoContextTakeover: true },
  },
  client_no_context_takeover: { options: {}, params: { clientNoContextTakeover: true } },
  'no context takeover both ways': {
    options: {},
    params: { serverNoContextTakeover: true, clientNoContextTakeover: true },
  },
  'window bits 10 both ways': { options: {}, params: { serverMaxWindowBits: 10, clientMaxWindowBits: 10 } },
  'window bits 10 both ways, memLevel 4': {
    options: { zlibDeflateOptions: { memLevel: 4 } },
    params: { serverMaxWindowBits: 10, clientMaxWindowBits: 10 },
  },
  'memLevel 9 (zlib max), 15-bit windows': { options: { zlibDeflateOptions: { memLevel: 9 } }, params: {} },
};

async function child(name, n) {
  const { PerMessageDeflate } = await import(new URL('codec.js', dist));
  const { normalizeDeflateOptions } = await import(new URL('negotiation.js', dist));
  const { liveZlibContexts } = await import(new URL('zlib-sync.js', dist));
  const setting = SETTINGS[name];
  const message = Buffer.from(
    '{"type":"chat","user":"ada","text":"hello everyone, how is it going?"}'.repeat(30),
  );
  const params = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
    ...setting?.params,
  };
  const options = setting && normalizeDeflateOptions(setting.options, 'server');
  // What a client would send: compressed once (every connection's first message is the same).
  const sender = setting && new PerMessageDeflate('client', params, normalizeDeflateOptions({}, 'client'));
  const incoming = sender?.compress(message, false);
  const size = setting?.small ? 100 : message.length;

  globalThis.gc();
  const contextsBefore = liveZlibContexts();
  const before = process.memoryUsage();
  const conns = [];
  for (let i = 0; i < n; i++) {
    if (setting === null) {
      conns.push({ id: i });
      continue;
    }
    const codec = new PerMessageDeflate('server', params, options);
    if (!setting.small) codec.decompress(incoming, true, 0);
    codec.compress(message.subarray(0, size), false);
    conns.push(codec);
  }
  globalThis.gc();
  const after = process.memoryUsage();
  const result = {
    rss: (after.rss - before.rss) / n,
    arrayBuffers: (after.arrayBuffers - before.arrayBuffers) / n,
    contexts: liveZlibContexts() - contextsBefore,
  };
  for (const c of conns) c.close?.();
  sender?.close();
  process.stdout.write(JSON.stringify(result));
}

if (process.argv[2] === '--child') {
  await child(process.argv[3], Number(process.argv[4]));
} else {
  const n = Number(process.argv[2] ?? 2000);
  console.log(`node ${process.version}, ${n} server-side connections per setting, one message each way\n`);
  console.log(
    '| setting | RSS per connection | arrayBuffers per connection | zlib contexts for all connections |',
  );
  console.log('| --- | ---: | ---: | ---: |');
  for (const name of Object.keys(SETTINGS)) {
    const out = execFileSync(process.execPath, ['--expose-gc', here, '--child', name, String(n)], {
      encoding: 'utf8',
    });
    const r = JSON.parse(out);
    const kib = (x) => `${(x / 1024).toFixed(1)} KiB`;
    console.log(`| ${name} | ${kib(r.rss)} | ${kib(r.arrayBuffers)} | ${r.contexts} |`);
  }
}
