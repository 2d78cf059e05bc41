/**
 * riptide/core: the I/O-free WebSocket protocol (RFC 6455, RFC 7692).
 * Bytes in, events out; actions in, bytes out. No sockets, timers or global randomness.
 */
export * from './errors.js';
