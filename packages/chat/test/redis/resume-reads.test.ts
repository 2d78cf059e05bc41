/**
 * What a node reads from Redis to resume a room for a client (`hello` rooms, `sync`), before the
 * replay itself: the room's base (a deleted room's seqs), its counter and, when the client named a
 * tag, the entry at its seq. All three in one MULTI: one round trip and one state of Redis per
 * resumed room (RedisStore.resumePoint), never a GET of the base on its own.
 *
 * Counted with MONITOR on the test's own redis-server: it lists every command each connection
 * sends, MULTI ... EXEC included, in the order Redis ran them.
 */
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { LOG_TAG } from '../../src/shared/protocol.js';
import { redisServerForThisFile, SimClient, startChatServersOnRedis, waitUntil } from './helpers.js';

const server = redisServerForThisFile();
const closing: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close();
});

interface Command {
  source: string;
  args: string[];
}

/** Every command Redis runs from now on, until `stop()` (which waits for its own marker). */
async function monitor(url: string): Promise<{ stop: () => Promise<Command[]> }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const seen: Command[] = [];
  let buffered = '';
  let started: () => void;
  const ok = new Promise<void>((resolve) => {
    started = resolve;
  });
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      if (line === '+OK') started();
      else {
        // +<time> [<db> <source>] "arg" "arg" ...
        const match = /^\+\S+ \[\d+ (\S+)\] (.*)$/.exec(line);
        if (match) seen.push({ source: match[1], args: unquote(match[2]) });
      }
    }
  });
  socket.write('MONITOR\r\n');
  await ok;
  const raw = new Redis(url);
  const close = () => {
    socket.destroy();
    raw.disconnect();
  };
  closing.push(async () => close());
  return {
    stop: async () => {
      // Redis runs commands one at a time: once MONITOR shows this one, it showed all before it.
      await raw.echo('monitor-end');
      await waitUntil('the end marker', () => seen.some((c) => c.args[1] === 'monitor-end'));
      close();
      return seen;
    },
  };
}

/** MONITOR's quoted arguments (`"a" "b\"c"`) -> their values (\xNN escapes kept as they are). */
function unquote(text: string): string[] {
  const args: string[] = [];
  for (const m of text.matchAll(/"((?:[^"\\]|\\.)*)"/g)) args.push(m[1].replace(/\\(["\\])/g, '$1'));
  return args;
}

/** The commands of the connection that ran `at`, from the MULTI before it to the EXEC after it. */
function transactionAround(commands: Command[], at: number): string[] | null {
  const mine = commands.filter((c) => c.source === commands[at].source);
  const i = mine.indexOf(commands[at]);
  let start = i;
  while (start >= 0 && mine[start].args[0].toLowerCase() !== 'multi') start--;
  let end = i;
  while (end < mine.length && mine[end].args[0].toLowerCase() !== 'exec') end++;
  if (start < 0 || end === mine.length) return null;
  const block = mine.slice(start, end + 1).map((c) => c.args.join(' ').toLowerCase());
  // Another MULTI or EXEC between: `at` was not inside one transaction.
  return block.slice(1, -1).some((c) => c === 'multi' || c === 'exec') ? null : block;
}

describe('resuming a room reads its base, counter and tagged entry in one round trip', () => {
  it('one MULTI per room of a hello and per sync, and no other read of a base', async () => {
    const prefix = 'rr:';
    const [node] = await startChatServersOnRedis(1, { url: server().url, prefix });
    closing.push(() => node.close());
    const origin = node.url.replace(/\/$/, '');
    const ann = await SimClient.connect(origin, 'ann');
    closing.push(async () => ann.close());
    for (const room of ['r1', 'r2']) {
      ann.request({ type: 'create', ref: `c-${room}`, room });
      await ann.next('joined', (m) => m.room === room);
    }
    for (const room of ['general', 'r1', 'r2'])
      for (const text of ['one', 'two']) {
        const id = ann.send(room, text);
        await waitUntil(`ack of ${text} in ${room}`, () => ann.acks.has(id));
      }
    await waitUntil('all three rooms at 2', () =>
      ['general', 'r1', 'r2'].every((r) => ann.head.get(r) === 2 && LOG_TAG.test(ann.tags.get(r) ?? '')),
    );

    ann.close();
    const mon = await monitor(server().url);
    // hello names the three rooms at seq 2 with their tags; then a sync of r1 names its tag.
    await ann.connectTo(origin);
    ann.request({ type: 'sync', ref: 's1', room: 'r1', after: 2, tag: ann.tags.get('r1') });
    await ann.next('synced', (m) => m.ref === 's1');
    const commands = await mon.stop();

    // Every read of a base but those of the unread and mention counts' script (source `lua`), which
    // count after it (store.ts, COUNT_AFTER).
    const bases = commands.flatMap((c, i) =>
      c.source !== 'lua' && c.args.some((a) => a.endsWith('}:base')) && c.args[0] !== 'evalsha' ? [i] : [],
    );
    expect(bases.map((i) => commands[i].args[1])).toEqual(
      ['general', 'r1', 'r2', 'r1'].map((room) => `${prefix}room:{${room}}:base`),
    );
    for (const [n, i] of bases.entries()) {
      const room = ['general', 'r1', 'r2', 'r1'][n];
      const key = (part: string) => `${prefix}room:{${room}}:${part}`;
      expect(transactionAround(commands, i)).toEqual([
        'multi',
        `get ${key('base')}`,
        `get ${key('seq')}`,
        `xrange ${key('log')} 2-0 2-0`,
        'exec',
      ]);
    }
  });
});
