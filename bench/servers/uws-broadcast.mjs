// Broadcast server with uWebSockets.js and its own pub/sub: every socket subscribes to one
// topic and every message is published to it (uWS frames it once and corks each receiver).
import { loadUws, uwsBehavior, uwsListen } from './common.mjs';

const uWS = loadUws();
const app = uWS.App().ws('/*', {
  ...uwsBehavior(uWS),
  open: (ws) => {
    ws.subscribe('all');
  },
  message: (_ws, message, isBinary) => {
    app.publish('all', message, isBinary);
  },
});
uwsListen(uWS, app);
