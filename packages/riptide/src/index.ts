/**
 * riptide: RFC 6455 WebSockets for Node.js. The public API mirrors ws 8:
 *
 *   import WebSocket, { WebSocketServer } from 'riptide';
 *   const WebSocket = require('riptide'); new WebSocket.Server({ port: 8080 });
 */
import { WebSocket } from './node/websocket.js';

export * from './core/errors.js';
export type { ClientOptions } from './node/client.js';
export {
  type AddEventListenerOptions,
  CloseEvent,
  ErrorEvent,
  Event,
  type EventHandler,
  type EventListener,
  MessageEvent,
  type WebSocketEventMap,
} from './node/event-target.js';
export { Http2HandshakeRequest, Http2HandshakeResponse } from './node/http2-client.js';
export type { HeartbeatOptions } from './node/options.js';
export { createWebSocketStream } from './node/stream.js';
export type { PublishOptions } from './node/topics.js';
export type {
  BinaryType,
  Data,
  HandshakeRequest,
  HandshakeResponse,
  RawData,
  SendCallback,
  SendData,
  SendOptions,
} from './node/websocket.js';
export { WebSocket } from './node/websocket.js';
export {
  type PerMessageDeflateOptions,
  type ServerOptions,
  type VerifyClientAsync,
  type VerifyClientCallbackAsync,
  type VerifyClientCallbackSync,
  type VerifyClientInfo,
  type VerifyClientSync,
  WebSocketServer,
  WebSocketServer as Server,
} from './node/websocket-server.js';

export default WebSocket;
