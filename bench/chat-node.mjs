// One chat node for bench/chat-nodes.mjs: the built server with options given as JSON in argv[2]
// (the benchmark lifts the per-user rate limit, which main.js has no flag for).
import { startChatServer } from '../packages/chat/dist/server/chat-server.js';

const options = JSON.parse(process.argv[2] ?? '{}');
const server = await startChatServer({ port: 0, log: (line) => console.error(line), ...options });
console.log(`riptide chat listening on ${server.url}`);
process.on('SIGTERM', () => {
  server.close().then(() => process.exit(0));
});
