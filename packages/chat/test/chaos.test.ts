/**
 * The chaos test on one server (SQLite): random users, tabs, rooms, sends, replies, edits, deletes
 * and reactions, rooms left, joined, created, deleted and created again, invitations to private
 * rooms, connections cut at random moments and the server restarted on the same database file,
 * then the invariants of "reconnect without losing or duplicating a message" (chaos/run.ts).
 * CHAOS_SEED=<n> replays one seed; CHAOS_STEPS=<n> changes the steps per seed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ChatServer, type ChatServerOptions, startChatServer } from '../src/server/chat-server.js';
import { CHAOS_LIMITS, type Cluster, runChaos } from './chaos/run.js';

const SEEDS = process.env.CHAOS_SEED
  ? [Number(process.env.CHAOS_SEED)]
  : Array.from({ length: Number(process.env.CHAOS_SEEDS ?? 4) }, (_, i) => i + 1);
const log = process.env.CHAOS_VERBOSE ? (line: string) => console.log(line) : undefined;
const STEPS = Number(process.env.CHAOS_STEPS ?? 300);

/** One server on a database file; `disrupt` restarts it on the same file (and port, if free). */
class SqliteCluster implements Cluster {
  restarts = 0;
  private constructor(
    private server: ChatServer,
    readonly options: ChatServerOptions,
  ) {}

  static async start(dbPath: string): Promise<SqliteCluster> {
    const options: ChatServerOptions = {
      dbPath,
      log: () => {},
      sweepIntervalMs: 0,
      heartbeatMs: 0,
      maxSocketsPerUser: 100,
      signUpPerIp: { burst: 1000, perSecond: 1000 },
      signInPerIp: { burst: 1000, perSecond: 1000 },
      limits: CHAOS_LIMITS,
    };
    return new SqliteCluster(await startChatServer({ port: 0, ...options }), options);
  }

  origin(): string {
    return this.server.url.replace(/\/$/, '');
  }

  async disrupt(): Promise<string> {
    const port = this.server.port;
    await this.server.close();
    this.server = await startChatServer({ port, ...this.options }).catch(() =>
      startChatServer({ port: 0, ...this.options }),
    );
    this.restarts++;
    return `server restarted on ${this.origin()}`;
  }

  close(): Promise<void> {
    return this.server.close();
  }
}

let dir = '';
let cluster: SqliteCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('chaos on one server (SQLite)', () => {
  for (const seed of SEEDS)
    it(`seed ${seed}: ${STEPS} random steps lose and duplicate nothing`, async () => {
      dir = mkdtempSync(join(tmpdir(), 'riptide-chaos-'));
      cluster = await SqliteCluster.start(join(dir, 'chat.db'));
      const stats = await runChaos(cluster, { seed, steps: STEPS, disruptRate: 0.006, log });
      // The run did what it is for: messages typed, connections cut, resends recognised.
      expect(stats.typed).toBeGreaterThan(STEPS / 5);
      expect(stats.kills).toBeGreaterThan(5);
      expect(stats.synced).toBeGreaterThan(5);
      // Rooms were entered and left, replies typed.
      expect(stats.joined + stats.left).toBeGreaterThan(0);
      expect(stats.replies).toBeGreaterThan(0);
    });
});
