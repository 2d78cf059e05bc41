/**
 * SIGKILL-then-restart: every message a sender saw acknowledged is in history after a restart,
 * exactly once (the in-flight one resent under its id is recognised), and each page's resume
 * replays exactly the seqs it missed.
 * Runs the built server (dist/server/main.js, made by `npm run build`) as a real child process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { login, register, TestClient } from './helpers.js';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'server', 'main.js');
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function waitUntil(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}

/** Starts the chat on a free port; resolves with its origin once it logged its URL. */
function startChild(dbPath: string): Promise<{ child: ChildProcess; origin: string }> {
  const child = spawn(process.execPath, [main, '--port', '0', '--db', dbPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk;
      const match = /listening on (http:\/\/[^/\s]+)\//.exec(out);
      if (match) resolve({ child, origin: match[1] });
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      out += chunk;
    });
    child.on('exit', (code) => reject(new Error(`chat exited with ${code}: ${out}`)));
  });
}

describe('durability', () => {
  it('built server exists', () => {
    expect(existsSync(main), 'run `npm run build` first').toBe(true);
  });

  it('loses no acknowledged message when the server is killed with SIGKILL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'riptide-chat-crash-'));
    dirs.push(dir);
    const dbPath = join(dir, 'chat.db');
    const first = await startChild(dbPath);
    const senders = await Promise.all(
      ['ann', 'ben', 'cat'].map(
        async (name) => (await TestClient.join(first.origin, await register(first.origin, name))).client,
      ),
    );
    const acked = new Set<string>();
    const sent: string[][] = senders.map(() => []);
    /** The last seq of general each sender saw live: where its page resumes from. */
    const seen = senders.map(() => 0);
    senders.forEach((sender, s) => {
      sender.ws.on('message', (data) => {
        const m = JSON.parse(String(data));
        if (m.type === 'ack') acked.add(m.id);
        if (m.type === 'message' && m.message.room === 'general') seen[s] = m.message.seq;
      });
    });
    // Each sender keeps one message in flight (send, wait for the ack, send the next) under the
    // rate limit; the kill comes once 30 are acknowledged, while the next ones are in flight.
    let stop = false;
    const pumps = senders.map(async (sender, s) => {
      for (let i = 0; i < 8 && !stop; i++) {
        if (sender.ws.readyState !== 1) return;
        sent[s].push(`s${s}-${i}`);
        sender.send({
          v: 2,
          type: 'send',
          id: `s${s}-${i}`,
          room: 'general',
          text: `message ${i} from ${s}`,
        });
        await sender.next('ack', (a) => a.id === `s${s}-${i}`).catch(() => {});
      }
    });
    await waitUntil(() => acked.size >= 15);
    first.child.kill('SIGKILL');
    stop = true;
    await Promise.all(pumps);
    await Promise.all(senders.map((c) => c.closed));
    expect(acked.size).toBeGreaterThanOrEqual(15);

    const second = await startChild(dbPath);
    // Each page comes back as the page does: resume from the last seq it saw, then resend what was
    // unacknowledged (the one in flight at the kill) under the same id.
    let head = 0;
    for (const [s, name] of ['ann', 'ben', 'cat'].entries()) {
      const page = await TestClient.connect(second.origin, await login(second.origin, name));
      page.send({ v: 2, type: 'hello', rooms: { general: seen[s] } });
      const synced = await page.next('synced', (m) => m.room === 'general');
      await page.next('welcome');
      head = synced.head;
      // The resume gets exactly what it missed: every seq after the one it saw, once, in order.
      const replayed = page.all('message').map((m) => m.message.seq);
      expect(replayed).toEqual(Array.from({ length: head - seen[s] }, (_, i) => seen[s] + 1 + i));
      for (const id of sent[s].filter((id) => !acked.has(id))) {
        const ack = await page.request('ack', {
          type: 'send',
          id,
          room: 'general',
          text: `message ${id.split('-')[1]} from ${s}`,
        });
        expect(ack).toMatchObject({ type: 'ack', id });
      }
      await page.close();
    }
    const reader = (await TestClient.join(second.origin, await login(second.origin, 'ann'))).client;
    const stored: string[] = [];
    let before: number | undefined;
    for (;;) {
      reader.send({ v: 2, type: 'history', room: 'general', ...(before ? { before } : {}) });
      const page = await reader.next('history');
      for (const m of page.messages) stored.push(m.id);
      if (!page.hasMore) break;
      before = page.messages[0].seq;
    }
    for (const id of acked)
      expect(stored.includes(id), `acknowledged ${id} missing after restart`).toBe(true);
    // Exactly once: the resends of messages stored before the kill were recognised, not stored again.
    expect(stored.length).toBe(new Set(stored).size);
    expect(new Set(stored)).toEqual(new Set(sent.flat()));
    await reader.close();
    second.child.kill('SIGTERM');
    await new Promise((r) => second.child.once('exit', r));
    expect(second.child.exitCode).toBe(0);
  });
});
