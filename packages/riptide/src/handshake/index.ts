/**
 * riptide/handshake: the opening handshake of RFC 6455 (section 4) as pure functions.
 * Bytes and header objects in, decisions and bytes out; no sockets, timers or randomness.
 */
export * from './accept.js';
export * from './client.js';
export * from './errors.js';
export * from './extended-connect.js';
export * from './header-lists.js';
export * from './http.js';
export * from './server.js';
export { isFieldValue, isToken } from './syntax.js';
