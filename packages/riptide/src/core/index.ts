/**
 * riptide/core: the I/O-free WebSocket protocol (RFC 6455, RFC 7692).
 * Bytes in, events out; actions in, bytes out. No sockets, timers or global randomness.
 */
export * from './close.js';
export * from './errors.js';
export type { PerMessageExtension } from './extension.js';
export * from './frame.js';
export * from './mask.js';
export * from './protocol.js';
export type { FrameHandler, ReceiverOptions } from './receiver.js';
export { Receiver } from './receiver.js';
export * from './sender.js';
export * from './utf8.js';
