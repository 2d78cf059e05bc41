/**
 * Redis dies (SIGKILL) for a few seconds while clients on three nodes keep talking: the nodes keep
 * every socket, tell clients the service is unavailable, refuse messages with 'unavailable' instead
 * of acknowledging them, and recover by themselves when Redis is back. No acknowledged message is
 * lost (appendfsync always) and none is stored twice (the clients resend; dedup).
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ChatNode, cleanupAll, RedisServer, SimClient, userNames, waitUntil } from './helpers.js';

afterEach(cleanupAll);

describe('Redis unreachable for a few seconds', () => {
  it('refuses instead of acknowledging, keeps sockets, recovers alone, loses and duplicates nothing', async () => {
    const redis = await RedisServer.start();
    const nodes = await ChatNode.startMany(3, redis.url);
    const clients = await SimClient.spreadOver(nodes, userNames(6));
    const closes: string[] = [];
    for (const c of clients) c.ws?.on('close', () => closes.push(c.user));

    const { sent, stop } = SimClient.keepTalking(clients, 'general', 20);
    const acked = () => clients.reduce((n, c) => n + c.acks.size, 0);
    await waitUntil('some acknowledgements', () => acked() > 10);
    const ackedBefore = new Map(
      clients.flatMap((c) => [...c.acks].map(([id, seq]) => [`${c.user}/${id}`, seq])),
    );

    await redis.stop('SIGKILL');
    await waitUntil('every client to hear of the outage', () =>
      clients.every((c) => c.service.includes(false)),
    );
    await waitUntil('a send refused during the outage', () =>
      clients.some((c) => c.errors.some((e) => e.code === 'unavailable')),
    );
    // New arrivals are told to come back later (503), not served a 500.
    const signIn = await fetch(`${nodes[1].origin}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: nodes[1].origin },
      body: JSON.stringify({ name: 'newcomer', password: 'correct horse' }),
    });
    expect(signIn.status).toBe(503);
    expect(await signIn.json()).toMatchObject({ error: 'unavailable' });
    const upgrade = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${nodes[1].origin.replace('http', 'ws')}/ws`, {
        headers: { cookie: clients[1].cookie, origin: nodes[1].origin },
      });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => {});
    });
    expect(upgrade).toBe(503);
    // Sends during the outage were refused with the message's id, never acknowledged.
    const refused = clients.flatMap((c) => c.errors.filter((e) => e.code === 'unavailable'));
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((e) => typeof e.id === 'string')).toBe(true);
    expect(clients.reduce((n, c) => n + c.outbox.size, 0)).toBeGreaterThan(0);
    expect(clients.every((c) => c.open)).toBe(true);

    await redis.restart();
    await waitUntil(
      'every client to hear the service is back',
      () => clients.every((c) => c.service.at(-1) === true),
      15_000,
    );
    const ackedAtRecovery = acked();
    await waitUntil('acknowledgements after the recovery', () => acked() >= ackedAtRecovery + 12);
    await stop();
    await waitUntil('every acknowledgement', () => clients.every((c) => c.outbox.size === 0));
    // The highest seq acknowledged to anyone: every client must get that far (the heads seen so
    // far may all still lag behind it while the nodes' readers catch up).
    const head = Math.max(...clients.flatMap((c) => [...c.acks.values()]));
    await waitUntil('every delivery', () => clients.every((c) => c.head.get('general') === head));

    expect(closes).toEqual([]); // no socket was dropped
    const reference = clients[0].messages('general');
    expect(reference.map((m) => m.seq)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    const keys = reference.map((m) => `${m.user}/${m.id}`);
    expect(new Set(keys).size).toBe(keys.length); // nothing stored twice
    expect(reference.map((m) => m.id).sort()).toEqual([...sent].sort()); // everything stored once
    // Every message acknowledged before the crash kept its seq.
    const bySeq = new Map(reference.map((m) => [`${m.user}/${m.id}`, m.seq]));
    for (const [key, seq] of ackedBefore) expect(bySeq.get(key)).toBe(seq);
    for (const c of clients) expect(c.messages('general')).toEqual(reference);
    // The nodes serve new clients without a restart.
    const late = await SimClient.connect(nodes[2].origin, 'late');
    late.send('general', 'made it');
    await waitUntil('late message delivered', () =>
      clients[1].messages('general').some((m) => m.text === 'made it'),
    );
  });
});

describe('Redis hung (stopped, the connections stay open)', () => {
  it('is detected by the probe, refused at once, and recovered from when Redis resumes', async () => {
    const redis = await RedisServer.start();
    // The command timeout is far longer than any wait below: a refusal that arrives at all was
    // not waiting for it (the probe, at most 3 s, is what detects the hang).
    const options = { redis: { url: redis.url, presenceTtlMs: 3000, commandTimeoutMs: 60_000 } };
    const nodes = await ChatNode.startMany(2, redis.url, options);
    const ann = await SimClient.connect(nodes[0].origin, 'ann');
    const ben = await SimClient.connect(nodes[1].origin, 'ben');
    const first = ann.send('general', 'before');
    await waitUntil('ack', () => ann.acks.has(first));

    redis.proc?.kill('SIGSTOP');
    try {
      await waitUntil(
        'both to hear of the outage',
        () => ann.service.includes(false) && ben.service.includes(false),
      );
      const id = ben.send('general', 'during');
      await waitUntil('refusal', () => ben.errors.some((e) => e.code === 'unavailable' && e.id === id));
      expect(ben.outbox.has(id)).toBe(true);
      expect(ann.open && ben.open).toBe(true);
    } finally {
      redis.proc?.kill('SIGCONT');
    }
    await waitUntil('service back', () => ann.service.at(-1) === true && ben.service.at(-1) === true);
    await waitUntil('resent and acknowledged', () => ben.outbox.size === 0);
    await waitUntil(
      'delivered',
      () => ann.messages('general').length === 2 && ben.messages('general').length === 2,
    );
    expect(ann.messages('general').map((m) => m.text)).toEqual(['before', 'during']);
    expect(ben.messages('general')).toEqual(ann.messages('general'));
  });
});
