// Echo server with riptide, written exactly like ws-echo.mjs (riptide is a drop-in for ws 8).
// --deflate enables permessage-deflate with the library's defaults (perMessageDeflate: true).
import { announce, exitOnSignal, flag, portArg, unavailable } from './common.mjs';

let riptide;
try {
  riptide = await import('riptide');
} catch (err) {
  unavailable('the riptide library (is it built? npm run build)', err);
}
const { WebSocketServer } = riptide;
if (typeof WebSocketServer !== 'function') unavailable('riptide has no WebSocketServer yet (Node layer)');

let wss;
try {
  wss = new WebSocketServer({ host: '127.0.0.1', port: portArg(), perMessageDeflate: flag('deflate') });
} catch (err) {
  // An option the library does not support yet (permessage-deflate before it lands).
  unavailable('riptide WebSocketServer with these options', err);
}

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
