// Autobahn|Testsuite testee, client side: the standard client loop against the fuzzing server
// (`wstest -m fuzzingserver`, by default on ws://127.0.0.1:9001):
//
//   GET /getCaseCount                       one text message: the number of cases
//   GET /runCase?case=N&agent=riptide       echo every message with the same type until closed
//   GET /updateReports?agent=riptide        the server writes its reports, then closes
//
//   npm run autobahn:client -- ws://127.0.0.1:9001 [--deflate] [--agent riptide]
import { parseArgs } from 'node:util';
import WebSocket from 'riptide';

const usage = 'usage: npm run autobahn:client -- [ws://127.0.0.1:9001] [--deflate] [--agent riptide]';
let values;
let positionals;
try {
  ({ values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      deflate: { type: 'boolean', default: false },
      agent: { type: 'string', default: 'riptide' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (err) {
  process.stderr.write(`autobahn client: ${err.message}\n${usage}\n`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
if (positionals.length > 1) {
  process.stderr.write(`autobahn client: one URL only, got ${positionals.length}\n${usage}\n`);
  process.exit(2);
}
const base = (positionals[0] ?? 'ws://127.0.0.1:9001').replace(/\/+$/, '');
const agent = encodeURIComponent(values.agent);

/**
 * Open one connection and resolve when it closes. Errors before the opening handshake completes
 * (the fuzzing server is not there) reject; errors after it are the fuzzer's doing and only
 * end that case.
 */
function session(path, onMessage) {
  return new Promise((resolve, reject) => {
    // maxFragments: 0 (no limit): cases 9.3.x and 9.4.x send up to 65,536 fragments, above ws 8's
    // default of 16,384 that riptide keeps.
    const ws = new WebSocket(`${base}${path}`, { perMessageDeflate: values.deflate, maxFragments: 0 });
    let opened = false;
    ws.on('open', () => {
      opened = true;
    });
    ws.on('message', (data, isBinary) => onMessage(ws, data, isBinary));
    ws.on('error', (err) => {
      if (!opened) reject(new Error(`${base}${path}: ${err.message}`));
    });
    ws.on('close', (code) => resolve(code));
  });
}

async function main() {
  let count = Number.NaN;
  await session('/getCaseCount', (_ws, data) => {
    count = Number.parseInt(data.toString(), 10);
  });
  if (!Number.isInteger(count) || count < 0) throw new Error(`/getCaseCount answered no number of cases`);
  process.stdout.write(`${count} cases\n`);
  for (let n = 1; n <= count; n++) {
    const code = await session(`/runCase?case=${n}&agent=${agent}`, (ws, data, isBinary) => {
      ws.send(data, { binary: isBinary });
    });
    process.stdout.write(`case ${n}/${count}: closed ${code}\n`);
  }
  await session(`/updateReports?agent=${agent}`, () => {});
  process.stdout.write('reports updated\n');
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`autobahn client: ${err.message}\n`);
    process.exit(1);
  },
);
