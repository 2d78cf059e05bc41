/**
 * The one place the CLI names its WebSocket library. Everything else imports from here and uses
 * only ws 8's public API (which riptide implements), so the CLI doubles as a test of that API.
 */
export { WebSocket, WebSocketServer } from 'riptide';
