/**
 * docs/chat-protocol.md on two nodes sharing one Redis: every `chat` block, with its users spread
 * over the nodes (the first user on one, the second on the other, and so on), so each example also
 * shows that the promise holds across nodes. Each block has its own key prefix and fake clock.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';
import { ManualClock } from '../../src/server/clock.js';
import { parseDoc } from '../protocol-doc/parse.js';
import { type Coverage, runBlock } from '../protocol-doc/runner.js';
import { redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const doc = parseDoc(readFileSync(join(root, 'docs', 'chat-protocol.md'), 'utf8'));

const redis = redisServerForThisFile();

const coverage: Coverage = { sent: new Set(), received: new Set(), errors: new Set() };
let blocks = 0;

describe('docs/chat-protocol.md on two nodes sharing Redis', () => {
  for (const block of doc.blocks) {
    it(`the example at line ${block.line}`, async () => {
      await runBlock(
        block,
        async (limits, admins) => {
          const clock = new ManualClock(1_796_000_000_000);
          const prefix = `doc${blocks++}:`;
          const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix, limits, clock, admins });
          let next = 0;
          const placed = new Map<string, string>();
          return {
            origin(user) {
              let origin = placed.get(user);
              if (!origin) {
                origin = nodes[next++ % 2].url.replace(/\/$/, '');
                placed.set(user, origin);
              }
              return origin;
            },
            clock,
            tags: true,
            close: async () => {
              for (const node of nodes) await node.close();
            },
          };
        },
        coverage,
      );
    });
  }
});
