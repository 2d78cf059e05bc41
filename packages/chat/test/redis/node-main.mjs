// A chat node for the Redis tests: the built server (dist/) started with the options given as JSON
// in argv[2] (so tests can lower limits and the presence ttl without new CLI flags). Prints the same
// "listening on" line as main.js, and stops on SIGTERM like it.
import { startChatServer } from '../../dist/server/chat-server.js';

const options = JSON.parse(process.argv[2] ?? '{}');
const server = await startChatServer({
  port: 0,
  statsEndpoint: true,
  log: (line) => console.error(line),
  ...options,
});
console.log(`riptide chat listening on ${server.url}`);
process.on('SIGTERM', () => {
  server.close().then(() => process.exit(0));
});
