/**
 * The page's reconnect schedule (web/connection.ts), on a fake clock with a fake WebSocket: after
 * a lost connection, when the page tries again, how the waits grow while the server stays away,
 * and that a welcome starts the schedule over.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, Connection, type Status } from '../../src/web/connection.js';

/** A WebSocket that opens (and says welcome) only while the fake server is up. */
class FakeSocket {
  static readonly OPEN = 1;
  static up = true;
  static made: FakeSocket[] = [];
  readyState = 0;
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  readonly at = Date.now();

  constructor(readonly url: string) {
    FakeSocket.made.push(this);
    // The answer comes after the constructor, as a browser's does.
    queueMicrotask(() => {
      if (!FakeSocket.up) return void this.onclose?.({ code: 1006 });
      this.readyState = FakeSocket.OPEN;
      this.onopen?.();
      this.onmessage?.({ data: JSON.stringify({ v: 2, type: 'welcome' }) });
    });
  }

  send(): void {}

  /** The server went away (1001: it is stopping), or closed with `code`. */
  lose(code = 1001): void {
    this.readyState = 3;
    this.onclose?.({ code });
  }

  close(): void {
    this.readyState = 3;
  }
}

let statuses: Status[];

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
  FakeSocket.up = true;
  FakeSocket.made = [];
  statuses = [];
  vi.stubGlobal('WebSocket', FakeSocket);
  vi.stubGlobal('location', { protocol: 'http:', host: 'chat.test' });
  // The probe of a refused upgrade: the server is down, the fetch fails.
  vi.stubGlobal('fetch', () => Promise.reject(new TypeError('connection refused')));
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

/** A page online, then its server going away at 0 ms (the clock's time then). */
async function onlineThenLost(): Promise<{ conn: Connection; lostAt: number }> {
  const conn = new Connection({ onOpen() {}, onMessage() {}, onStatus: (s) => statuses.push(s) });
  conn.connect();
  await vi.advanceTimersByTimeAsync(0);
  expect(statuses.at(-1)).toEqual({ state: 'online' });
  FakeSocket.up = false;
  const lostAt = Date.now();
  FakeSocket.made[0].lose();
  return { conn, lostAt };
}

/** The times of the tries after the loss, ms after it, up to `until` ms. */
async function triesUntil(lostAt: number, until: number): Promise<number[]> {
  await vi.advanceTimersByTimeAsync(until);
  return FakeSocket.made.slice(1).map((s) => s.at - lostAt);
}

describe('the reconnect schedule', () => {
  for (const [name, draw] of [
    ['shortest', 0],
    ['middle', 0.5],
    ['longest', 0.999],
  ] as const) {
    it(`finds a server restarted in 2.4 s by 3.4 s after it went away (${name} waits)`, async () => {
      vi.spyOn(Math, 'random').mockReturnValue(draw);
      const { conn, lostAt } = await onlineThenLost();
      await vi.advanceTimersByTimeAsync(2400);
      FakeSocket.up = true;
      const back = await new Promise<number>((resolve) => {
        const check = () => {
          if (statuses.at(-1)?.state === 'online') resolve(Date.now() - lostAt);
          else void vi.advanceTimersByTimeAsync(50).then(check);
        };
        check();
      });
      // Doubling from 0.5 s, the tries came at 0.25-0.5, 0.75-1.5, 1.75-3.5 and 3.75-7.5 s.
      expect(back).toBeLessThanOrEqual(3400);
      conn.stop();
    });
  }

  it('tries first 0.25-0.5 s after the loss, then waits longer each time (jittered) up to 15-30 s', async () => {
    const draws = [0, 1, 0.5, 0.25, 0.75, 0, 1, 0.3, 0.6, 0.9, 0.1, 0.5, 1, 0];
    let n = 0;
    vi.spyOn(Math, 'random').mockImplementation(() => draws[n++ % draws.length]);
    const { conn, lostAt } = await onlineThenLost();
    const tries = await triesUntil(lostAt, 10 * 60_000);
    const waits = tries.map((t, i) => t - (i === 0 ? 0 : tries[i - 1]));
    // Each wait is within [c/2, c] of its ceiling c, drawn as Math.random said.
    const ceilings = [500, 1000, 1000, 1000, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000];
    ceilings.forEach((c, i) => {
      expect(waits[i]).toBe(Math.round(c / 2 + (draws[i % draws.length] * c) / 2));
    });
    // The ceilings never come down, and stay at 30 s: a server down for 10 minutes is tried ~30 times.
    expect(waits.slice(9).every((w) => w >= 15_000 && w <= 30_000)).toBe(true);
    expect(tries.length).toBeLessThan(40);
    conn.stop();
  });

  it('starts over after a welcome: the next loss is tried again after 0.25-0.5 s', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const { conn, lostAt } = await onlineThenLost();
    await triesUntil(lostAt, 20_000);
    FakeSocket.up = true;
    await vi.advanceTimersByTimeAsync(30_000);
    expect(statuses.at(-1)).toEqual({ state: 'online' });
    FakeSocket.up = false;
    const again = Date.now();
    const before = FakeSocket.made.length;
    (FakeSocket.made.at(-1) as FakeSocket).lose();
    await vi.advanceTimersByTimeAsync(500);
    expect(FakeSocket.made.length).toBe(before + 1);
    expect((FakeSocket.made.at(-1) as FakeSocket).at - again).toBe(500);
    conn.stop();
  });

  it('backoffDelay: the waits of the schedule, at both ends of the jitter', () => {
    expect([0, 1, 4, 5, 6, 9, 10, 50].map((a) => backoffDelay(a, () => 0))).toEqual([
      250, 500, 500, 1000, 2000, 15_000, 15_000, 15_000,
    ]);
    expect([0, 1, 4, 5, 6, 9, 10, 50].map((a) => backoffDelay(a, () => 1))).toEqual([
      500, 1000, 1000, 2000, 4000, 30_000, 30_000, 30_000,
    ]);
  });
});

describe("a close with 1008 (this socket's session ended)", () => {
  /** An online page whose socket the server closes with 1008, `GET /ws` then answering `status`. */
  async function endedWith(status: number): Promise<{ conn: Connection; asked: string[] }> {
    const asked: string[] = [];
    vi.stubGlobal('fetch', (url: string) => {
      asked.push(url);
      return Promise.resolve({ status, ok: false, headers: new Map() });
    });
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const conn = new Connection({ onOpen() {}, onMessage() {}, onStatus: (s) => statuses.push(s) });
    conn.connect();
    await vi.advanceTimersByTimeAsync(0);
    expect(statuses.at(-1)).toEqual({ state: 'online' });
    FakeSocket.made[0].lose(1008);
    await vi.advanceTimersByTimeAsync(60_000);
    return { conn, asked };
  }

  it('stops when the server says the cookie is signed out (401): the sign-in is shown, no new socket', async () => {
    const { asked } = await endedWith(401);
    expect(asked).toEqual(['/ws']);
    expect(statuses.at(-1)).toEqual({ state: 'signed-out' });
    expect(FakeSocket.made).toHaveLength(1);
  });

  it('comes back when the cookie is a good session (426: an upgrade would be taken), 0.5 s later', async () => {
    // A password change renewed this page's cookie and this node closed the old token's socket by
    // its own recheck (1008) rather than the bus notice's 4001; or another tab signed in again.
    const { conn, asked } = await endedWith(426);
    expect(asked).toEqual(['/ws']);
    expect(FakeSocket.made).toHaveLength(2);
    expect(FakeSocket.made[1].at - FakeSocket.made[0].at).toBe(500);
    expect(statuses.at(-1)).toEqual({ state: 'online' });
    expect(statuses.some((s) => s.state === 'signed-out')).toBe(false);
    conn.stop();
  });
});
