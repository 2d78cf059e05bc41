/**
 * The opening handshake of RFC 6455 (section 4) as pure functions, gathered in one module.
 * Bytes and header objects in, decisions and bytes out; no sockets, timers or randomness.
 *
 * Internal: not a package.json export (the published entries are `riptide` and `riptide/core`),
 * so its names may change without notice. Publishing it as `riptide/handshake` would need an
 * exports entry, a pack check and documentation.
 */
export * from './accept.js';
export * from './client.js';
export * from './errors.js';
export * from './extended-connect.js';
export * from './header-lists.js';
export * from './http.js';
export * from './server.js';
export { isFieldValue, isToken } from './syntax.js';
