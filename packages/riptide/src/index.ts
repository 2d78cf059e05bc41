/**
 * riptide: RFC 6455 WebSockets for Node.js. The public API mirrors ws 8.
 */
export * from './core/errors.js';
