// Echo server with ws 8 and its native add-ons, written the way the ws README does it.
// --deflate enables permessage-deflate with ws's defaults (perMessageDeflate: true).
import { WebSocketServer } from 'ws';
import { announce, assertWsNativeAddons, exitOnSignal, flag, portArg } from './common.mjs';

assertWsNativeAddons();

const wss = new WebSocketServer({ host: '127.0.0.1', port: portArg(), perMessageDeflate: flag('deflate') });

wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    ws.send(data, { binary: isBinary });
  });
});
wss.on('listening', () => announce(wss.address().port));
exitOnSignal(() => {
  for (const ws of wss.clients) ws.terminate();
  wss.close();
});
