// Echo server with uWebSockets.js (C++; the `uwebsockets` npm package), compression off: every
// message is sent back on the socket it came from. Exits "not available" without the package.
import { loadUws, uwsBehavior, uwsListen } from './common.mjs';

const uWS = loadUws();
const app = uWS.App().ws('/*', {
  ...uwsBehavior(uWS),
  message: (ws, message, isBinary) => {
    ws.send(message, isBinary);
  },
});
uwsListen(uWS, app);
