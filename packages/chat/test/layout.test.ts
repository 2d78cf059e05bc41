/**
 * Tests mirror files (docs/architecture.md): src/server/a/b.ts is tested by test/a/b.test.ts,
 * src/shared/ and src/web/ by test/shared/ and test/web/, and the Redis backend
 * (src/server/backends/redis/x.ts) by test/redis/x.test.ts, the folder that starts a Redis.
 * Files whose behaviour only shows through a running server or the page in a browser are listed
 * below with the test that drives them. A new source file needs its mirror test, or an entry.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { treeFiles } from '../../../test-support/architecture-tree.js';

const src = join(__dirname, '..', 'src');
const test = __dirname;

/** Source files that need no mirror test because they hold no run-time code: none in the chat. */
const TYPE_ONLY: Record<string, string> = {};

/** Each reason starts with the test (under test/) that drives the file. */
const DRIVEN_BY: Record<string, string> = {
  'server/chat-server.ts':
    'helpers.ts starts a ChatServer for every server test; main.test.ts, crash.test.ts',
  'server/ports.ts':
    'backends/store-contract.ts: the interfaces every backend implements; UnavailableError in redis/store.test.ts',
  'server/default-room.ts':
    'http/accounts.test.ts: a sign-up finding general missing; redis/empty-redis.test.ts',
  'server/transport.ts': 'hub/delivery.test.ts: backpressure and heartbeat through a live server',
  'server/http/routes.ts': 'http/accounts.test.ts: the API routes through a live server',
  'server/http/upgrade.ts': 'http/upgrade-probe.test.ts: the WebSocket gate (origin, session, per-user cap)',
  'server/hub/hub.ts': 'hub/delivery.test.ts and the other hub/*.test.ts, by request type',
  'server/hub/attachments.ts': 'http/attachments.test.ts: a send with files through a live server',
  'server/hub/connection.ts': 'hub/limits.test.ts: the outbound cap of a peer that does not read',
  'server/hub/local-rooms.ts':
    "hub/rooms.test.ts: presence and the connections per user and room; hub/read-sync.test.ts: the user's topic",
  'server/hub/membership.ts':
    'hub/rooms.test.ts: create, join, leave, invite, dm, delete; hub/remove.test.ts; hub/invitations.test.ts',
  'server/hub/replay.ts': 'hub/delivery.test.ts: replays that overlap live traffic, under backpressure',
  'server/backends/sqlite/index.ts': 'helpers.ts opens the SQLite backend for every server test',
  'server/backends/redis/index.ts': 'redis/backend.ts opens the Redis backend for every test/redis/ test',
  'server/backends/sqlite/blocks.ts':
    'backends/sqlite/store.test.ts: the blocks contract (backends/blocks-contract.ts); backends/sqlite/schema.test.ts',
  'server/backends/sqlite/bans.ts':
    'backends/sqlite/store.test.ts: the bans contract (backends/bans-contract.ts); backends/sqlite/schema.test.ts',
  'server/backends/redis/bus.ts': 'redis/nodes.test.ts: notices between nodes on one Redis',
  'server/backends/redis/connection.ts': 'redis/outage.test.ts: Redis down and back; redis/failover.test.ts',
  'server/backends/redis/keys.ts': 'redis/store.test.ts reads the keys it names',
  'server/backends/redis/done-markers.ts': 'redis/store.test.ts: the done-markers of the start passes',
  'server/backends/redis/presence.ts':
    'redis/store.test.ts: presence across two backends, expiry of a dead one; redis/presence-outage.test.ts',
  'server/backends/redis/throttle.ts': 'redis/store.test.ts: the throttle shared by nodes',
  'shared/protocol.ts': 'protocol-doc.test.ts: docs/chat-protocol.md run against a server (types and limits)',
  'web/account.ts': 'e2e/account.test.ts: the account dialog (password change, other sessions) in Chromium',
  'web/attachments.ts': 'e2e/files.test.ts: pasted and dropped files in Chromium',
  'web/avatar.ts':
    'e2e/a11y.test.ts: avatars in the page (the file touches the DOM, which tsconfig.test.json has not)',
  'web/autocomplete.ts': 'e2e/features.test.ts: `@` autocomplete in Chromium (logic: web/mentions.test.ts)',
  'web/dom.ts': 'e2e/chat.test.ts: user text never interpreted as HTML',
  'web/invitations.ts': 'e2e/invitations.test.ts: pending invitations listed and accepted in Chromium',
  'web/keyboard.ts': 'e2e/keyboard.test.ts: the page from the keyboard alone',
  'web/main.ts': 'e2e/chat.test.ts: the page wired up in Chromium',
  'web/panels.ts': 'e2e/remove.test.ts: the people panel; e2e/layout.test.ts: the phone drawers',
  'web/picker.ts': 'e2e/features.test.ts: reactions picked in Chromium',
  'web/placeholder.ts': "e2e/layout.test.ts: the composer's placeholder shown whole",
  'web/theme.ts': 'e2e/conversation.test.ts: dark mode',
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : name.endsWith('.ts') ? [path] : [];
  });
}

/** Where the mirror test of a source file (src-relative, with '/') lives, under test/. */
function mirrorOf(file: string): string {
  const redis = /^server\/backends\/(redis\/.*)\.ts$/.exec(file);
  if (redis) return `${redis[1]}.test.ts`;
  return file.replace(/^server\//, '').replace(/\.ts$/, '.test.ts');
}

function missingMirrors(files: readonly string[], hasTest: (t: string) => boolean): string[] {
  return files
    .filter((f) => !(f in TYPE_ONLY) && !(f in DRIVEN_BY))
    .filter((f) => !hasTest(mirrorOf(f)))
    .sort();
}

const files = sources(src).map((f) => relative(src, f).split('\\').join('/'));
const hasTest = (t: string) => existsSync(join(test, t));

describe('tests mirror files (packages/chat)', () => {
  it('maps src to test as docs/architecture.md says', () => {
    expect(mirrorOf('server/hub/mentions.ts')).toBe('hub/mentions.test.ts');
    expect(mirrorOf('shared/token-bucket.ts')).toBe('shared/token-bucket.test.ts');
    expect(mirrorOf('web/outbox.ts')).toBe('web/outbox.test.ts');
    expect(mirrorOf('server/backends/redis/store.ts')).toBe('redis/store.test.ts');
    expect(mirrorOf('server/backends/sqlite/store.ts')).toBe('backends/sqlite/store.test.ts');
  });

  it('every source file has its mirror test, or an entry with the test that drives it', () => {
    expect(missingMirrors(files, hasTest), 'add the mirror test (see mirrorOf)').toEqual([]);
  });

  it('every entry names an existing source file without a mirror test, and an existing test', () => {
    for (const [file, reason] of Object.entries({ ...TYPE_ONLY, ...DRIVEN_BY })) {
      expect(files, file).toContain(file);
      expect(reason.length, file).toBeGreaterThan(10);
      expect(hasTest(mirrorOf(file)), `${file} has a mirror test now: drop its entry`).toBe(false);
    }
    for (const [file, reason] of Object.entries(DRIVEN_BY)) {
      const driver = /^[\w/.-]+\.ts/.exec(reason)?.[0] ?? '';
      expect(hasTest(driver), `${file}: ${reason}`).toBe(true);
    }
  });

  it('the check fails for a new source file without a test (it is not vacuous)', () => {
    expect(missingMirrors([...files, 'server/hub/new-concept.ts'], hasTest)).toContain(
      'server/hub/new-concept.ts',
    );
    expect(missingMirrors(['web/outbox.ts'], () => false)).toEqual(['web/outbox.ts']);
  });
});

describe("docs/architecture.md's chat tree", () => {
  it('names every source file of src/, and no file that is not there', () => {
    const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'architecture.md'), 'utf8');
    expect(treeFiles(doc, 'packages/chat/src/'), 'docs/architecture.md, "The chat tree"').toEqual(
      [...files].sort(),
    );
  });
});

describe("the package's entry points", () => {
  it('main and bin name the build of a source file (main: chat-server.ts, which startChatServer is in)', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
      main: string;
      bin: Record<string, string>;
    };
    const sourceOf = (built: string) => join(src, built.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'));
    expect(pkg.main).toBe('./dist/server/chat-server.js');
    for (const entry of [pkg.main, ...Object.values(pkg.bin)])
      expect(existsSync(sourceOf(entry)), entry).toBe(true);
  });
});
