// Broadcast server with ws 8 and its native add-ons: every message goes to every open client,
// through the usual loop over wss.clients (the ws README's "broadcast to all" example).
import { WebSocket, WebSocketServer } from 'ws';
import { announce, assertWsNativeAddons, exitOnSignal, portArg } from './common.mjs';

assertWsNativeAddons();

const wss = new WebSocketServer({ host: '127.0.0.1', port: portArg(), perMessageDeflate: false });

wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    }
  });
});
wss.on('listening', () => announce(wss.address().port));
exitOnSignal(() => {
  for (const ws of wss.clients) ws.terminate();
  wss.close();
});
