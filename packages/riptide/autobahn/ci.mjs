#!/usr/bin/env node
// The real Autobahn|Testsuite against both testees, as CI runs it:
//
//   node packages/riptide/autobahn/ci.mjs [--node PATH] [--runs core,core-deflate,deflate-quick]
//                                         [--runs deflate-full] [--roles server,client]
//                                         [--out DIR] [--timeout SECONDS]
//
// Runs (each against the server testee, driven by wstest's fuzzing client, and against the client
// testee, driven by wstest's fuzzing server):
//
//   core           cases 1-10 with the testees' default options
//   core-deflate   cases 1-10 with --deflate (permessage-deflate negotiated, every message through it)
//   deflate-quick  cases 12.x.1, 12.x.4, 13.x.1 and 13.x.4 with --deflate: every payload kind and every
//                  deflate parameter set, small messages (the whole 12.x/13.x takes ~30 minutes)
//   deflate-full   every 12.* and 13.* case (216, up to 128 KiB messages in 12.x.11-18 and 13.x.11-18)
//                  with --deflate; not among the default runs (about half an hour on two cores): ask
//                  for it with --runs deflate-full before calling deflate work done
//
// The testees run under --node (default: this node), so one runner checks every Node version.
// A run passes only when every case's behaviour AND closing behaviour is OK or INFORMATIONAL and
// no case is missing (the testsuite's summarise.py decides), and the testee did not crash.
//
// The testsuite (a Python 3 port, run with Debian's /usr/bin/python3 and its python3-autobahn,
// -twisted, -jinja2, -openssl and -service-identity packages) is looked for at $AUTOBAHN_DIR, then
// ../shared/tools/autobahn beside the repository, then /work/shared/tools/autobahn. When none
// exists this prints "AUTOBAHN NOT RUN: ..." and exits 0: a clone without the tool is not a
// failure, and the line says plainly that nothing was checked.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..', '..');
const PYTHON = '/usr/bin/python3';
// wstest waits 1 s for a closing handshake and 5 s for an opening one: a correct testee on a
// loaded machine misses those (9.3.2 was marked UNCLEAN once, its close answered late). Longer
// timeouts change no verdict for a testee that answers wrongly or never.
const PATIENCE = { openHandshakeTimeout: 20, closeHandshakeTimeout: 20 };
const CORE = ['1.*', '2.*', '3.*', '4.*', '5.*', '6.*', '7.*', '8.*', '9.*', '10.*'];
// Every 12.x (payload kinds) and 13.x (deflate parameters) group, with two of its short message
// sizes: 24 cases in well under a minute. The whole 216 take about half an hour on two cores.
const DEFLATE_QUICK = [
  '12.1',
  '12.2',
  '12.3',
  '12.4',
  '12.5',
  '13.1',
  '13.2',
  '13.3',
  '13.4',
  '13.5',
  '13.6',
  '13.7',
].flatMap((group) => [`${group}.1`, `${group}.4`]);

export const RUNS = {
  core: { cases: CORE, deflate: false, title: 'cases 1-10' },
  'core-deflate': { cases: CORE, deflate: true, title: 'cases 1-10, --deflate' },
  'deflate-quick': {
    cases: DEFLATE_QUICK,
    deflate: true,
    title: 'cases 12.x.1, 12.x.4, 13.x.1, 13.x.4, --deflate',
  },
  'deflate-full': {
    cases: ['12.*', '13.*'],
    deflate: true,
    title: 'cases 12.* and 13.*, --deflate',
    optional: true,
    // About 30 minutes per role on two quiet cores, longer beside other work: the default 900 s
    // once cut a correct run off mid-case (the testee stopped, the case read as failed).
    timeout: 4200,
  },
};

/** Seconds a role may take when neither --timeout nor the run's own `timeout` says. */
export const DEFAULT_TIMEOUT = 900;

/** The runs made when --runs is not given: every run but the optional (slow) ones. */
export const DEFAULT_RUNS = Object.keys(RUNS).filter((name) => !RUNS[name].optional);

/** Where the testsuite may be, in the order it is looked for. */
export function candidates(root = repoRoot, env = process.env) {
  const list = [];
  if (env.AUTOBAHN_DIR) list.push(resolve(env.AUTOBAHN_DIR));
  list.push(resolve(root, '..', 'shared', 'tools', 'autobahn'));
  list.push('/work/shared/tools/autobahn');
  return [...new Set(list)];
}

/** The first candidate that holds the testsuite, or null. */
export function findTestsuite(list = candidates()) {
  return list.find((dir) => existsSync(join(dir, 'autobahntestsuite', 'wstest.py'))) ?? null;
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** A child whose output is kept; `exited` resolves with its exit code (or the signal's name). */
function start(command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (s) => (output += s));
  child.stderr.setEncoding('utf8').on('data', (s) => (output += s));
  const exited = new Promise((done) => child.on('close', (code, signal) => done(code ?? signal)));
  running.add(child);
  exited.then(() => running.delete(child));
  return { child, exited, output: () => output };
}

const running = new Set();
function stopAll() {
  for (const child of running) child.kill('SIGKILL');
}

/** Resolves with the first match of `re` in the child's output; rejects if it exits first. */
function waitForOutput(proc, re) {
  return new Promise((found, failed) => {
    const check = () => {
      const m = re.exec(proc.output());
      if (m) found(m);
    };
    proc.child.stdout.on('data', check);
    proc.child.stderr.on('data', check);
    proc.exited.then((code) =>
      failed(new Error(`exited (${code}) before printing ${re}:\n${proc.output()}`)),
    );
    check();
  });
}

/** Resolves once something accepts connections on the port (no deadline: the run's timeout bounds it). */
async function waitForPort(port, proc) {
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`exited before listening:\n${proc.output()}`);
    const up = await new Promise((done) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        done(true);
      });
      socket.once('error', () => done(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function wstest(suite, mode, specPath, cwd, extra = []) {
  return start(PYTHON, ['-m', 'autobahntestsuite.wstest', '-m', mode, '-s', specPath, ...extra], {
    cwd,
    env: { ...process.env, PYTHONPATH: suite },
  });
}

/** How many cases the patterns select, counted by the testsuite itself. */
function caseCount(suite, patterns) {
  const script = `
import json, sys
from autobahntestsuite.case import Cases, CaseCategories, CaseSubCategories, CaseBasename, CaseSetname
from autobahntestsuite.caseset import CaseSet
cs = CaseSet(CaseSetname, CaseBasename, Cases, CaseCategories, CaseSubCategories)
print(len(cs.parseSpecCases({'cases': json.loads(sys.argv[1])})))`;
  const r = spawnSync(PYTHON, ['-c', script, JSON.stringify(patterns)], {
    env: { ...process.env, PYTHONPATH: suite },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`counting cases failed: ${r.stderr}`);
  return Number(r.stdout.trim());
}

function summarise(suite, out, expected) {
  const r = spawnSync(
    PYTHON,
    [join(suite, 'summarise.py'), join(out, 'reports', 'index.json'), String(expected)],
    {
      encoding: 'utf8',
    },
  );
  return { ok: r.status === 0, line: `${r.stdout}${r.stderr}`.trim() };
}

function withTimeout(promise, seconds, what) {
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${seconds} s`)), seconds * 1000);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** The server testee under `node`, tested by wstest's fuzzing client. */
async function testServer({ suite, node, run, out, timeout, expected }) {
  const testee = start(node, [
    join(here, 'server.mjs'),
    '--port',
    '0',
    ...(run.deflate ? ['--deflate'] : []),
  ]);
  try {
    const [, url] = await waitForOutput(testee, /listening on (ws:\/\/\S+)/);
    const spec = {
      options: { ...PATIENCE, serverConnectionDropTimeout: 20 },
      outdir: join(out, 'reports'),
      servers: [{ agent: 'riptide', url }],
      cases: run.cases,
      'exclude-cases': [],
      'exclude-agent-cases': {},
    };
    writeFileSync(join(out, 'spec.json'), JSON.stringify(spec, null, 2));
    const fuzzer = wstest(suite, 'fuzzingclient', 'spec.json', out);
    const code = await withTimeout(fuzzer.exited, timeout, 'wstest fuzzingclient');
    writeFileSync(join(out, 'wstest.log'), fuzzer.output());
    writeFileSync(join(out, 'testee.log'), testee.output());
    if (testee.child.exitCode !== null)
      return { ok: false, line: `the server testee exited (${testee.child.exitCode}) during the run` };
    const verdict = summarise(suite, out, expected);
    if (code !== 0)
      return { ok: false, line: `wstest exited ${code} (see ${out}/wstest.log); ${verdict.line}` };
    return verdict;
  } finally {
    testee.child.kill('SIGTERM');
    await testee.exited;
  }
}

/** The client testee under `node`, against wstest's fuzzing server. */
async function testClient({ suite, node, run, out, timeout, expected }) {
  const port = await freePort();
  const spec = {
    options: PATIENCE,
    url: `ws://127.0.0.1:${port}`,
    outdir: join(out, 'reports'),
    cases: run.cases,
    'exclude-cases': [],
    'exclude-agent-cases': {},
  };
  writeFileSync(join(out, 'spec.json'), JSON.stringify(spec, null, 2));
  const fuzzer = wstest(suite, 'fuzzingserver', 'spec.json', out, ['--webport', '0']);
  try {
    await withTimeout(waitForPort(port, fuzzer), timeout, 'wstest fuzzingserver');
    const testee = start(node, [
      join(here, 'client.mjs'),
      `ws://127.0.0.1:${port}`,
      ...(run.deflate ? ['--deflate'] : []),
    ]);
    const code = await withTimeout(testee.exited, timeout, 'the client testee').catch((err) => {
      testee.child.kill('SIGKILL');
      throw err;
    });
    writeFileSync(join(out, 'testee.log'), testee.output());
    // The client's last connection (/updateReports) closes after the reports are written.
    const verdict = summarise(suite, out, expected);
    if (code !== 0)
      return { ok: false, line: `the client testee exited ${code} (see ${out}/testee.log); ${verdict.line}` };
    return verdict;
  } finally {
    fuzzer.child.kill('SIGTERM');
    await fuzzer.exited;
    writeFileSync(join(out, 'wstest.log'), fuzzer.output());
  }
}

async function main() {
  const usage = `usage: node packages/riptide/autobahn/ci.mjs [--node PATH] [--runs ${Object.keys(RUNS).join(',')}] [--roles server,client] [--out DIR] [--timeout SECONDS]`;
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        node: { type: 'string', default: process.execPath },
        runs: { type: 'string', default: DEFAULT_RUNS.join(',') },
        out: { type: 'string', default: join(repoRoot, 'reports', 'autobahn') },
        timeout: { type: 'string' }, // default: the run's own `timeout`, else DEFAULT_TIMEOUT
        roles: { type: 'string', default: 'server,client' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`autobahn ci: ${err.message}\n${usage}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const runs = values.runs.split(',').filter(Boolean);
  const unknown = runs.filter((r) => !(r in RUNS));
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
  const roles = values.roles.split(',').filter(Boolean);
  const badRoles = roles.length === 0 || roles.some((r) => r !== 'server' && r !== 'client');
  if (unknown.length > 0 || runs.length === 0 || (timeout !== undefined && !(timeout > 0)) || badRoles) {
    process.stderr.write(
      `autobahn ci: ${unknown.length ? `unknown run ${unknown.join(', ')}` : 'bad --runs, --roles or --timeout'}\n${usage}\n`,
    );
    return 2;
  }

  const list = candidates();
  const suite = findTestsuite(list);
  if (suite === null) {
    process.stdout.write(
      `\n!!! AUTOBAHN NOT RUN: testsuite not found at ${list.join(', ')} (set AUTOBAHN_DIR) !!!\n\n`,
    );
    return 0;
  }
  const modules = spawnSync(PYTHON, ['-c', 'import autobahn, twisted, jinja2, OpenSSL, service_identity']);
  if (modules.status !== 0) {
    process.stderr.write(
      `autobahn ci: ${PYTHON} lacks the testsuite's modules; apt-get install python3-autobahn python3-twisted python3-jinja2 python3-openssl python3-service-identity\n`,
    );
    return 1;
  }
  const version = spawnSync(values.node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  if (!version) {
    process.stderr.write(`autobahn ci: cannot run ${values.node}\n`);
    return 1;
  }

  let failed = 0;
  for (const name of runs) {
    const run = RUNS[name];
    const expected = caseCount(suite, run.cases);
    for (const [role, test] of [
      ['server', testServer],
      ['client', testClient],
    ].filter(([role]) => roles.includes(role))) {
      const out = join(values.out, `node-${version}`, `${role}-${name}`);
      rmSync(out, { recursive: true, force: true });
      mkdirSync(out, { recursive: true });
      const t0 = Date.now();
      const limit = timeout ?? run.timeout ?? DEFAULT_TIMEOUT;
      const verdict = await test({ suite, node: values.node, run, out, timeout: limit, expected }).catch(
        (err) => ({
          ok: false,
          line: err.message,
        }),
      );
      const seconds = Math.round((Date.now() - t0) / 1000);
      if (!verdict.ok) failed++;
      process.stdout.write(
        `autobahn ${version} ${role} ${run.title}: ${verdict.ok ? 'PASS' : 'FAIL'} (${seconds} s) ${verdict.line}\n`,
      );
      if (!verdict.ok) process.stdout.write(`  reports: ${out}/reports/index.html\n`);
    }
  }
  return failed === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      stopAll();
      process.exit(130);
    });
  }
  main().then(
    (code) => {
      stopAll();
      process.exit(code);
    },
    (err) => {
      stopAll();
      process.stderr.write(`autobahn ci: ${err.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
