/**
 * A client's text messages in order, queued from the moment this is called: a server greeting
 * that arrives with the 101 is not lost before the test asks for it.
 */
import type { WebSocket } from '../../src/index.js';

export function queuedMessages(ws: WebSocket): () => Promise<string> {
  const queued: string[] = [];
  const waiting: Array<(m: string) => void> = [];
  ws.on('message', (data) => {
    const w = waiting.shift();
    if (w) w(String(data));
    else queued.push(String(data));
  });
  return () =>
    queued.length > 0 ? Promise.resolve(queued.shift()!) : new Promise((resolve) => waiting.push(resolve));
}
