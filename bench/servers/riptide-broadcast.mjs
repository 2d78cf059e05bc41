// Broadcast server with riptide's pub/sub: every socket subscribes to one topic and every
// message is published to it, so the frame is built once for all receivers (issue 5).
import { announce, exitOnSignal, portArg, unavailable } from './common.mjs';

let riptide;
try {
  riptide = await import('riptide');
} catch (err) {
  unavailable('the riptide library (is it built? npm run build)', err);
}
const { WebSocketServer } = riptide;
if (typeof WebSocketServer !== 'function') unavailable('riptide has no WebSocketServer yet (Node layer)');

const wss = new WebSocketServer({ host: '127.0.0.1', port: portArg(), perMessageDeflate: false });
if (typeof wss.publish !== 'function') unavailable('riptide has no server.publish yet (pub/sub)');

wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.subscribe('all');
  ws.on('message', (data, isBinary) => {
    wss.publish('all', data, { binary: isBinary });
  });
});
wss.on('listening', () => announce(wss.address().port));
exitOnSignal(() => {
  for (const ws of wss.clients) ws.terminate();
  wss.close();
});
