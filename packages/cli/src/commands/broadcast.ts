/**
 * `riptide broadcast --port N`: the broadcast chat server of the Node WebSocket tutorial.
 * Each client is greeted with 'Welcome to the chat!'; every text message is sent, as
 * 'Server: <message>' (the tutorial's wording), to every open client, the sender included;
 * binary messages are relayed unchanged. A client with more than CLIENT_BACKLOG waiting for it
 * (it does not read) is closed with 1008 rather than held without bound. GET / serves the
 * tutorial's page: an input, a Send button and a message list.
 */
import { type CommandSpec, parseCommand, SHOW_HELP } from '../args.js';
import { describeMessage, toBuffer } from '../format.js';
import { WebSocket } from '../lib.js';
import {
  CLIENT_BACKLOG,
  type Handler,
  listen,
  logClientEnd,
  ORIGIN_NOTES,
  peerOf,
  respond,
  SERVER_SYNOPSIS,
  type Socket,
  serverCloseTimeout,
  serverFlags,
  shutdown,
  stopOnSignals,
} from '../server.js';
import type { Io } from '../terminal.js';

export const broadcastSpec: CommandSpec = {
  name: 'broadcast',
  brief: "the tutorial's chat server, with its page at /",
  synopsis: SERVER_SYNOPSIS,
  summary:
    "The tutorial's broadcast chat server: greets each client with 'Welcome to the chat!',\n" +
    "sends every message to every open client as 'Server: <message>', and serves a chat page at /.",
  positionals: [],
  flags: serverFlags,
  notes:
    'example:\n  riptide broadcast --port 8080    # then open http://127.0.0.1:8080/ in two browser tabs\n\n' +
    'a client that does not read (over 4 MiB waiting for it) is closed with 1008 and logged.\n\n' +
    ORIGIN_NOTES,
};

export const WELCOME = 'Welcome to the chat!';

// The page builds its WebSocket URL from its own address, so it works on any host and port,
// and shows messages with textContent: a message is never interpreted as HTML.
export const PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>riptide broadcast</title>
</head>
<body>
  <input id="msg" placeholder="Type message" autofocus>
  <button id="send">Send</button>
  <ul id="messages"></ul>
  <script>
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/');
    const messages = document.getElementById('messages');
    const input = document.getElementById('msg');

    function show(text) {
      const li = document.createElement('li');
      li.textContent = text;
      messages.appendChild(li);
    }

    ws.onmessage = (event) => show(typeof event.data === 'string' ? event.data : '(binary message)');
    ws.onclose = (event) => show('(disconnected: ' + event.code + ')');

    function sendMessage() {
      if (ws.readyState !== WebSocket.OPEN || input.value === '') return;
      ws.send(input.value);
      input.value = '';
    }
    document.getElementById('send').addEventListener('click', sendMessage);
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') sendMessage();
    });
  </script>
</body>
</html>
`;

const servePage: Handler = (req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/' && path !== '/index.html') {
    respond(res, 404, { 'Content-Type': 'text/plain; charset=utf-8' }, 'Not found\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    respond(
      res,
      405,
      { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' },
      'Method not allowed\n',
    );
    return;
  }
  respond(
    res,
    200,
    {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(PAGE),
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy':
        "default-src 'none'; script-src 'unsafe-inline'; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'",
    },
    req.method === 'HEAD' ? undefined : PAGE,
  );
};

export async function broadcast(argv: string[], io: Io): Promise<number> {
  const { flags, help } = parseCommand(broadcastSpec, argv);
  if (help) return SHOW_HELP;
  const closeTimeoutMs = serverCloseTimeout(broadcastSpec, flags);
  const running = await listen(broadcastSpec, flags, (line) => io.stdout.write(`${line}\n`), servePage);
  const { wss } = running;
  io.stdout.write(`listening on ${running.url} (chat page at ${running.url.replace(/^ws/, 'http')}/)\n`);
  let next = 1;
  const ids = new WeakMap<Socket, number>();
  wss.on('connection', (ws: Socket, req) => {
    const id = next++;
    ids.set(ws, id);
    io.stdout.write(`[${id}] connected from ${peerOf(req)}\n`);
    ws.on('message', (data, isBinary) => {
      const buf = toBuffer(data);
      io.stdout.write(`[${id}] ${describeMessage(buf, isBinary)}\n`);
      for (const client of wss.clients) {
        if (client.readyState !== WebSocket.OPEN) continue;
        // A client that does not read would hold every message sent to all, without bound.
        if (client.bufferedAmount > CLIENT_BACKLOG) {
          io.stdout.write(
            `[${ids.get(client)}] dropped: does not read (over ${CLIENT_BACKLOG / 1024 / 1024} MiB waiting), close 1008\n`,
          );
          client.close(1008, 'too far behind: not reading');
          continue;
        }
        if (isBinary) client.send(buf, { binary: true });
        else client.send(`Server: ${buf.toString('utf8')}`);
      }
    });
    logClientEnd(running, ws, id, (line) => io.stdout.write(`${line}\n`));
    ws.send(WELCOME);
  });
  return new Promise((resolve) => {
    const stop = shutdown(running, () => wss.clients, resolve, closeTimeoutMs);
    stopOnSignals(stop);
  });
}
