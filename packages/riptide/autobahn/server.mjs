// Autobahn|Testsuite testee, server side: an echo server for the fuzzing client
// (`wstest -m fuzzingclient` pointed at ws://127.0.0.1:9001). Every message goes back with the
// same type. Run from the repository root after a build:
//
//   npm run autobahn:server -- --port 9001 [--deflate] [--host 127.0.0.1]
//
// It imports the built package by name, so it tests exactly what users import.
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'riptide';

const usage = 'usage: npm run autobahn:server -- [--port 9001] [--host 127.0.0.1] [--deflate]';
let values;
try {
  ({ values } = parseArgs({
    options: {
      port: { type: 'string', default: '9001' },
      host: { type: 'string', default: '127.0.0.1' },
      deflate: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (err) {
  process.stderr.write(`autobahn server: ${err.message}\n${usage}\n`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`autobahn server: --port must be 0..65535, got '${values.port}'\n`);
  process.exit(2);
}

// maxFragments: 0 (no limit): cases 9.3.x and 9.4.x send messages of up to 4 MiB in fragments
// as small as 64 bytes (65,536 of them), above ws 8's default of 16,384 that riptide keeps.
const wss = new WebSocketServer({
  host: values.host,
  port,
  perMessageDeflate: values.deflate,
  maxFragments: 0,
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  // The fuzzer breaks the protocol on purpose; the library fails those connections itself.
  ws.on('error', () => {});
});
wss.on('error', (err) => {
  process.stderr.write(`autobahn server: ${err.message}\n`);
  process.exit(1);
});
wss.on('listening', () => {
  const { address, port: actual } = wss.address();
  process.stdout.write(
    `listening on ws://${address}:${actual} (permessage-deflate ${values.deflate ? 'on' : 'off'})\n`,
  );
});

const stop = () => {
  for (const ws of wss.clients) ws.terminate();
  wss.close(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
