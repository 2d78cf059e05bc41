/**
 * The chaos test on two nodes sharing one Redis (chaos/run.ts): the page's tabs spread over the
 * nodes, connections cut at random moments, and now and then a node killed with SIGKILL in the
 * middle of the traffic (its clients move to the other node) and a new one started in its place.
 * Now and then Redis itself is killed and restarted (with its append-only file). The invariants of
 * "reconnect without losing or duplicating a message" hold across nodes, with rooms left, joined,
 * created, deleted and created again (membership changes reach a user's tabs on other nodes
 * through pub/sub). Membership changes come about twice as often as in the SQLite run
 * (`extraMembership`): a run's tabs spend much of it reconnecting here, so fewer of its steps find
 * a tab connected.
 * CHAOS_SEED=<n> replays one seed; CHAOS_STEPS=<n> changes the steps per seed.
 */
import { describe, expect, it } from 'vitest';
import { CHAOS_LIMITS, type Cluster, runChaos } from '../chaos/run.js';
import { ChatNode, type RedisServer, redisServerForThisFile } from './helpers.js';

const SEEDS = process.env.CHAOS_SEED
  ? [Number(process.env.CHAOS_SEED)]
  : Array.from({ length: Number(process.env.CHAOS_SEEDS ?? 3) }, (_, i) => 100 + i);
const STEPS = Number(process.env.CHAOS_STEPS ?? 300);
const log = process.env.CHAOS_VERBOSE ? (line: string) => console.log(line) : undefined;

const redis = redisServerForThisFile();

/** Two nodes (child processes of the built server) under one key prefix; `disrupt` kills one. */
class RedisCluster implements Cluster {
  readonly nodes: ChatNode[] = [];
  private constructor(
    readonly redis: RedisServer,
    readonly prefix: string,
  ) {}

  static async start(redis: RedisServer, prefix: string): Promise<RedisCluster> {
    const cluster = new RedisCluster(redis, prefix);
    cluster.nodes.push(...(await Promise.all([cluster.#node(), cluster.#node()])));
    return cluster;
  }

  #node(): Promise<ChatNode> {
    return ChatNode.start(this.redis.url, {
      redis: { url: this.redis.url, prefix: this.prefix, presenceTtlMs: 3000 },
      heartbeatMs: 0,
      maxSocketsPerUser: 100,
      limits: CHAOS_LIMITS,
    });
  }

  origin(i: number): string {
    return this.nodes[i % this.nodes.length].origin;
  }

  async disrupt(random: () => number): Promise<string> {
    if (random() < 0.4) {
      // Redis dies (SIGKILL) and comes back with its append-only file (fsync on every write): the
      // nodes say `service` unavailable and close hellos with 1013 meanwhile; nothing acked is lost.
      await this.redis.stop('SIGKILL');
      await this.redis.restart();
      return 'redis killed and restarted';
    }
    const victim = this.nodes.splice(Math.floor(random() * this.nodes.length), 1)[0];
    await victim.kill();
    this.nodes.push(await this.#node());
    return `node ${victim.origin} killed; ${this.nodes.at(-1)?.origin} started`;
  }
}

describe('chaos on two nodes sharing one Redis', () => {
  for (const seed of SEEDS)
    it(`seed ${seed}: ${STEPS} random steps lose and duplicate nothing`, async () => {
      const cluster = await RedisCluster.start(redis(), `chaos${seed}:`);
      try {
        const stats = await runChaos(cluster, {
          seed,
          steps: STEPS,
          disruptRate: 0.006,
          extraMembership: 0.1,
          log,
        });
        expect(stats.typed).toBeGreaterThan(STEPS / 5);
        expect(stats.kills).toBeGreaterThan(5);
        expect(stats.synced).toBeGreaterThan(5);
        // Rooms were entered and left. Membership changes wait for their answers (chaos/run.ts)
        // and come twice as often as on SQLite: tabs spend much of a run here reconnecting.
        expect(stats.joined + stats.left).toBeGreaterThan(5);
      } finally {
        await Promise.all(cluster.nodes.map((n) => n.kill()));
      }
    });
});
