/**
 * The Autobahn|Testsuite testees (packages/riptide/autobahn/*.mjs, run through the root npm
 * scripts) against small fake fuzzers written here with `ws`. The fakes speak the same URL
 * protocol as wstest's fuzzingserver/fuzzingclient and check every echo. The real fuzzers run in
 * CI through autobahn/ci.mjs; here only how that runner finds the testsuite is tested.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
// @ts-expect-error: plain ESM JavaScript (the runner runs on every Node version without a build)
import { candidates, DEFAULT_RUNS, DEFAULT_TIMEOUT, findTestsuite, RUNS } from '../autobahn/ci.mjs';
import { refusedPort } from './node/helpers.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const children = new Set<ChildProcess>();

/** `npm run <script> -- args` in its own process group, so the whole tree can be stopped. */
function npmRun(
  script: string,
  args: string[],
): { child: ChildProcess; out: () => string; done: Promise<number> } {
  const child = spawn('npm', ['run', '--silent', script, '--', ...args], {
    cwd: ROOT,
    detached: true,
    stdio: 'pipe',
  });
  children.add(child);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (out += s));
  const done = new Promise<number>((resolve) =>
    child.on('close', (code) => {
      children.delete(child);
      resolve(code ?? -1);
    }),
  );
  return { child, out: () => out, done };
}

afterEach(() => {
  for (const child of children) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {}
  }
  children.clear();
});

type Msg = [type: 'text' | 'binary', hex: string];
const text = (s: string): Msg => ['text', Buffer.from(s).toString('hex')];
const binary = (b: Buffer): Msg => ['binary', b.toString('hex')];

const bytes256 = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const big = Buffer.alloc(16 * 1024 * 1024, 0x5a);
const invalidUtf8 = Buffer.from([
  0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80,
]);

interface Case {
  name: string;
  /** what the fuzzer sends */
  play(ws: WebSocket): void;
  /** the echoes it expects, in order (hex, so 16 MiB compares cheaply enough) */
  expect: Msg[];
  /** the close code it expects from the testee when the testee closes first */
  closeCode?: number;
}

const CASES: Case[] = [
  { name: 'text', play: (ws) => ws.send('Hello, Autobahn'), expect: [text('Hello, Autobahn')] },
  {
    name: 'binary and empty messages',
    play: (ws) => {
      ws.send(bytes256);
      ws.send('');
      ws.send(Buffer.alloc(0));
    },
    expect: [binary(bytes256), text(''), binary(Buffer.alloc(0))],
  },
  {
    name: 'a fragmented text message with a ping between the fragments',
    play: (ws) => {
      ws.send('frag', { fin: false });
      ws.ping('between');
      ws.send('ment', { fin: true });
    },
    expect: [text('fragment')],
  },
  { name: '16 MiB binary', play: (ws) => ws.send(big), expect: [binary(big)] },
  {
    name: 'invalid UTF-8 in a text message: the testee must fail the connection with 1007',
    play: (ws) => ws.send(invalidUtf8, { binary: false }),
    expect: [],
    closeCode: 1007,
  },
];

interface CaseResult {
  agent: string | null;
  echoes: Msg[];
  closeCode: number;
}

/** A fake wstest fuzzingserver: the URL protocol of the real one, the cases above. */
async function fakeFuzzingServer(deflate: boolean) {
  const results = new Map<number, CaseResult>();
  const reports: string[] = [];
  const requests: IncomingMessage[] = [];
  const http = createServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: deflate });
  wss.on('connection', (ws, req) => {
    requests.push(req);
    const url = new URL(req.url!, 'ws://fuzzer');
    if (url.pathname === '/getCaseCount') {
      ws.send(String(CASES.length));
      ws.close(1000);
    } else if (url.pathname === '/runCase') {
      const n = Number(url.searchParams.get('case'));
      const c = CASES[n - 1];
      const result: CaseResult = { agent: url.searchParams.get('agent'), echoes: [], closeCode: 0 };
      results.set(n, result);
      ws.on('message', (data, isBinary) => {
        result.echoes.push([isBinary ? 'binary' : 'text', (data as Buffer).toString('hex')]);
        if (result.echoes.length === c.expect.length) ws.close(1000);
      });
      ws.on('close', (code) => {
        result.closeCode = code;
      });
      ws.on('error', () => {});
      c.play(ws);
    } else if (url.pathname === '/updateReports') {
      reports.push(url.searchParams.get('agent') ?? '');
      ws.close(1000);
    } else {
      ws.close(1008, 'unknown path');
    }
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return {
    url,
    results,
    reports,
    requests,
    close: () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      http.close();
    },
  };
}

describe('autobahn:client against a fake fuzzing server', () => {
  it('reads the case count, runs every case echoing each message with its type, then updates the reports', async () => {
    const fuzzer = await fakeFuzzingServer(false);
    try {
      const client = npmRun('autobahn:client', [fuzzer.url]);
      expect(await client.done, client.out()).toBe(0);
      expect(fuzzer.results.size).toBe(CASES.length);
      CASES.forEach((c, i) => {
        const result = fuzzer.results.get(i + 1)!;
        expect(result.agent, c.name).toBe('riptide');
        expect(result.echoes, c.name).toEqual(c.expect);
        expect(result.closeCode, c.name).toBe(c.closeCode ?? 1000);
      });
      expect(fuzzer.reports).toEqual(['riptide']);
      expect(fuzzer.requests.map((r) => r.url)).toEqual([
        '/getCaseCount',
        ...CASES.map((_, i) => `/runCase?case=${i + 1}&agent=riptide`),
        '/updateReports?agent=riptide',
      ]);
      expect(client.out()).toContain(`${CASES.length} cases`);
      // without --deflate, no compression is offered
      for (const r of fuzzer.requests) expect(r.headers['sec-websocket-extensions']).toBeUndefined();
    } finally {
      fuzzer.close();
    }
  });

  it('--deflate offers permessage-deflate on every connection and echoes through it', async () => {
    const fuzzer = await fakeFuzzingServer(true);
    try {
      const client = npmRun('autobahn:client', [fuzzer.url, '--deflate']);
      expect(await client.done, client.out()).toBe(0);
      CASES.forEach((c, i) => {
        const result = fuzzer.results.get(i + 1)!;
        expect(result.echoes, c.name).toEqual(c.expect);
        expect(result.closeCode, c.name).toBe(c.closeCode ?? 1000);
      });
      expect(fuzzer.reports).toEqual(['riptide']);
      for (const r of fuzzer.requests)
        expect(r.headers['sec-websocket-extensions']).toMatch(/^permessage-deflate/);
    } finally {
      fuzzer.close();
    }
  });

  it('exits 1 with one line when no fuzzing server is there', async () => {
    // Not a server's port just closed: npm takes a second or more to start the client, long
    // enough for another test file's server to be given that port.
    const { port, release } = await refusedPort();
    try {
      const client = npmRun('autobahn:client', [`ws://127.0.0.1:${port}`]);
      expect(await client.done).toBe(1);
      expect(client.out()).toMatch(
        /^autobahn client: ws:\/\/127\.0\.0\.1:\d+\/getCaseCount: .*ECONNREFUSED/m,
      );
    } finally {
      await release();
    }
  });
});

/** A fake wstest fuzzingclient: connects to the testee and plays the same cases against it. */
async function playAgainst(
  url: string,
  c: Case,
  deflate = false,
): Promise<CaseResult & { pongs: number; extensions: string }> {
  const ws = new WebSocket(url, { perMessageDeflate: deflate });
  const result = { agent: null, echoes: [] as Msg[], closeCode: 0, pongs: 0, extensions: '' };
  ws.on('pong', () => result.pongs++);
  ws.on('error', () => {});
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  result.extensions = ws.extensions;
  return new Promise((resolve) => {
    ws.on('message', (data, isBinary) => {
      result.echoes.push([isBinary ? 'binary' : 'text', (data as Buffer).toString('hex')]);
      if (result.echoes.length === c.expect.length) ws.close(1000);
    });
    ws.on('close', (code) => {
      result.closeCode = code;
      resolve(result);
    });
    c.play(ws);
  });
}

async function startTestee(args: string[]) {
  const server = npmRun('autobahn:server', ['--port', '0', ...args]);
  // Read the URL from the output as it comes (npm can take seconds to start on a loaded
  // machine); an exit before it is a failure with the output shown.
  const listening = /listening on (ws:\/\/\S+)/;
  const url = await new Promise<string>((resolve) => {
    const check = () => {
      const match = listening.exec(server.out());
      if (match) resolve(match[1]);
    };
    server.child.stdout!.on('data', check);
    server.done.then(() => resolve(''));
    check();
  });
  expect(url, server.out()).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
  return { server, url };
}

describe('autobahn:server against a fake fuzzing client', () => {
  it('--deflate negotiates permessage-deflate and echoes every case through it', async () => {
    const { url } = await startTestee(['--deflate']);
    for (const c of CASES) {
      const result = await playAgainst(url, c, true);
      expect(result.extensions, c.name).toMatch(/^permessage-deflate/);
      expect(result.echoes, c.name).toEqual(c.expect);
      expect(result.closeCode, c.name).toBe(c.closeCode ?? 1000);
    }
  });

  it('echoes every case with the same type and fails invalid UTF-8 with 1007', async () => {
    const { server, url } = await startTestee([]);
    for (const c of CASES) {
      const result = await playAgainst(url, c);
      expect(result.echoes, c.name).toEqual(c.expect);
      expect(result.closeCode, c.name).toBe(c.closeCode ?? 1000);
      if (c.name.includes('ping')) expect(result.pongs, c.name).toBe(1);
    }
    // npm itself dies of the signal too, so only the ending (not the status) is observable here
    process.kill(-server.child.pid!, 'SIGTERM');
    await server.done;
  });

  it('rejects a bad --port with exit 2', async () => {
    const server = npmRun('autobahn:server', ['--port', 'nine']);
    expect(await server.done).toBe(2);
    expect(server.out()).toContain("--port must be 0..65535, got 'nine'");
  });
});

describe('the testees and the runner: a bad flag is one line and the usage, exit 2', () => {
  // Regression: an unknown flag (even --help on the testees) was parseArgs' stack trace, exit 1.
  for (const [script, name] of [
    ['autobahn:server', 'server'],
    ['autobahn:client', 'client'],
    ['autobahn:ci', 'ci'],
  ] as const) {
    it(`${script} --bogus`, async () => {
      const run = npmRun(script, ['--bogus']);
      expect(await run.done).toBe(2);
      expect(run.out()).toMatch(new RegExp(`^autobahn ${name}: Unknown option '--bogus'.*\nusage: `));
    });
  }

  it('autobahn:server --help and autobahn:client --help print the usage, exit 0', async () => {
    for (const script of ['autobahn:server', 'autobahn:client']) {
      const run = npmRun(script, ['--help']);
      expect(await run.done).toBe(0);
      expect(run.out()).toMatch(new RegExp(`^usage: npm run ${script} -- `));
    }
  });
});

describe('autobahn/ci.mjs finds the testsuite', () => {
  it('looks at $AUTOBAHN_DIR, then ../shared/tools/autobahn beside the repository, then /work/shared', () => {
    expect(candidates('/src/riptide', { AUTOBAHN_DIR: 'tools/ab' })).toEqual([
      join(process.cwd(), 'tools/ab'),
      '/src/shared/tools/autobahn',
      '/work/shared/tools/autobahn',
    ]);
    expect(candidates('/src/riptide', {})).toEqual([
      '/src/shared/tools/autobahn',
      '/work/shared/tools/autobahn',
    ]);
  });

  it('takes the first candidate that holds autobahntestsuite/wstest.py, and null when none does', () => {
    const dir = mkdtempSync(join(tmpdir(), 'riptide-ab-'));
    try {
      const fake = join(dir, 'suite');
      mkdirSync(join(fake, 'autobahntestsuite'), { recursive: true });
      writeFileSync(join(fake, 'autobahntestsuite', 'wstest.py'), '');
      expect(findTestsuite([join(dir, 'missing'), join(dir), fake])).toBe(fake);
      expect(findTestsuite([join(dir, 'missing'), join(dir)])).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('autobahn/ci.mjs runs', () => {
  it('runs every set but deflate-full by default; deflate-full is all of 12.* and 13.* with --deflate', () => {
    expect(DEFAULT_RUNS).toEqual(['core', 'core-deflate', 'deflate-quick']);
    expect(Object.keys(RUNS)).toContain('deflate-full');
    expect(RUNS['deflate-full']).toMatchObject({ cases: ['12.*', '13.*'], deflate: true, optional: true });
  });

  it('gives deflate-full its own time limit, far above the default runs', () => {
    // The whole 12.x/13.x takes about 30 minutes per role on two cores: under the 900 s of the
    // other runs the runner stopped a passing testee mid-case.
    expect(DEFAULT_TIMEOUT).toBe(900);
    expect(RUNS['deflate-full'].timeout).toBeGreaterThanOrEqual(3600);
    for (const name of DEFAULT_RUNS)
      expect((RUNS as Record<string, { timeout?: number }>)[name].timeout).toBeUndefined();
  });

  /** ci.mjs with `args`: its exit code and standard error. */
  async function runCi(...args: string[]): Promise<{ code: number | null; err: string }> {
    const run = spawn(process.execPath, [join(ROOT, 'packages/riptide/autobahn/ci.mjs'), ...args], {
      stdio: 'pipe',
    });
    let err = '';
    run.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
    const code = await new Promise<number | null>((resolve) => run.on('close', resolve));
    return { code, err };
  }

  it('refuses an unknown --roles value before looking for the testsuite', async () => {
    const { code, err } = await runCi('--roles', 'peer');
    expect(code).toBe(2);
    expect(err).toContain('bad --runs, --roles or --timeout');
  });

  it('refuses a --timeout that is not a positive number', async () => {
    const { code, err } = await runCi('--timeout', '0');
    expect(code).toBe(2);
    expect(err).toContain('bad --runs, --roles or --timeout');
  });
});
