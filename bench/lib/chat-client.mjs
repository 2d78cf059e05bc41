/**
 * A chat account and a WebSocket for the chat benchmarks (chat-dm-send.mjs, chat-page-render.mjs):
 * `register` creates an account on the server at `origin` and answers its session cookie;
 * `connect` opens the chat's WebSocket with it and answers `{ ws, request }`, where `request`
 * sends a protocol message with a fresh `ref` and resolves with the reply carrying it.
 */
import WebSocket from 'ws';

export async function register(origin, name, password = 'correct horse battery') {
  const res = await fetch(`${origin}/api/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin },
    body: JSON.stringify({ name, password }),
  });
  if (!res.ok) throw new Error(`register ${name}: ${res.status} ${await res.text()}`);
  return res.headers.get('set-cookie').split(';')[0];
}

export function connect(origin, cookie) {
  const ws = new WebSocket(`${origin.replace('http', 'ws')}/ws`, { headers: { cookie, origin } });
  const waiting = new Map();
  ws.on('message', (data) => {
    const m = JSON.parse(String(data));
    if (m.ref && waiting.has(m.ref)) {
      waiting.get(m.ref)(m);
      waiting.delete(m.ref);
    }
  });
  let next = 0;
  const request = (message) =>
    new Promise((resolve) => {
      const ref = `r${++next}`;
      waiting.set(ref, resolve);
      ws.send(JSON.stringify({ v: 2, ...message, ref }));
    });
  return new Promise((resolve) => ws.on('open', () => resolve({ ws, request })));
}
