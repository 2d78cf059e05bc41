// What one change costs the chat page in a long room (conversation.ts renderMessages), in Chromium:
// a room of N messages (default 3,400, all in the first page: the server's historyPage is raised),
// then bob's new messages and reactions, one at a time. The page is the chat's own web code
// bundled here from a source folder (default packages/chat/src; give an older checkout's to
// compare), unminified, with renderMessages wrapped in the page's own performance.now(): the
// call's time, and the time until the frame after it is painted (a task queued from the next
// requestAnimationFrame runs after the frame). Medians and ranges of RUNS runs of each case:
//   settled, a new message / a reaction: every row laid out (the idle steps done);
//   idle steps under way, a new message: the page reloaded, a fifth of its rows laid out.
// PROFILE=1 adds where the calls spend their time (V8's samples), TRACE=1 the main thread's work
// from a call to its frame's end (Chromium's trace). Needs `npm run build` (the server) and
// Chromium (CHROMIUM_PATH, else /usr/bin/chromium).
//
//   flock /tmp/riptide/bench.lock node bench/chat-page-render.mjs [src folder] [N] [RUNS]
//
// An older page's source: git archive <commit> packages/chat/src packages/chat/static | tar -x -C
// /tmp/before, then /tmp/before/packages/chat/src (its CSS, static/style.css beside it, is served
// with it). Results: bench/CHAT-PAGE-RESULTS.md.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { startChatServer } from '../packages/chat/dist/server/chat-server.js';
import { connect as connectAs, register as registerAt } from './lib/chat-client.mjs';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const [src = join(root, 'packages/chat/src'), count = '3400', runCount = '15'] = process.argv.slice(2);
const N = Number(count);
const RUNS = Number(runCount);

// The page's script, with renderMessages timed.
const built = await esbuild.build({
  entryPoints: [join(resolve(src), 'web', 'main.ts')],
  bundle: true,
  write: false,
  format: 'esm',
  target: 'es2020',
  logLevel: 'warning',
});
let app = built.outputFiles[0].text;
if (!app.includes('function renderMessages(')) throw new Error('renderMessages not found in the bundle');
app = app.replace('function renderMessages(', 'function renderMessages__timed(');
app += `
// Each idle callback (the background lay-out steps): how long it took, how long its deadline
// had left when it started, and how many rows it laid out (counted outside its time).
{
  const request = window.requestIdleCallback.bind(window);
  const laid = () => document.querySelectorAll('#message-list li.message[data-laid]').length;
  window.requestIdleCallback = (step, options) =>
    request((deadline) => {
      const left = deadline.timeRemaining();
      const before = laid();
      const start = performance.now();
      step(deadline);
      const took = performance.now() - start;
      (window.__idle ??= []).push({ took, left, end: performance.now(), rows: laid() - before });
    }, options);
}
function renderMessages(...args) {
  const list = document.getElementById('message-list');
  const unlaid = list.querySelectorAll('li.message:not([data-laid])').length;
  console.timeStamp('render start');
  const start = performance.now();
  renderMessages__timed(...args);
  const call = performance.now() - start;
  const entry = { call, frame: null, unlaid, rows: list.children.length };
  (window.__renders ??= []).push(entry);
  requestAnimationFrame(() => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      entry.frame = performance.now() - start;
      console.timeStamp('render frame end');
    };
    channel.port2.postMessage(null);
  });
}
`;

const dir = mkdtempSync(join(tmpdir(), 'chat-page-render-'));
const lifted = { burst: 1e9, perSecond: 1e9 };
const server = await startChatServer({
  port: 0,
  limits: { messageRate: lifted, requestRate: lifted, roomRate: lifted, historyPage: N + 100 },
  dbPath: join(dir, 'chat.db'),
  sweepIntervalMs: 0,
  log: () => {},
});
const origin = server.url.replace(/\/$/, '');
const register = (name) => registerAt(origin, name, 'browser password');
const connect = (cookie) => connectAs(origin, cookie);

// bob and carol take turns, a few messages each (groups), some of several lines.
const bob = await connect(await register('bob'));
const carol = await connect(await register('carol'));
for (const c of [bob, carol]) {
  await c.request({ type: 'hello' });
  await c.request({ type: 'join', room: 'general' });
}
for (let i = 1; i <= N; i++) {
  const who = Math.floor(i / 3) % 2 === 0 ? bob : carol;
  const text = i % 7 === 0 ? `line ${i}\nand a second line` : `message ${i} with a few words`;
  const ack = await who.request({ type: 'send', room: 'general', id: `s${i}`, text });
  if (ack.type !== 'ack') throw new Error(JSON.stringify(ack));
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
});
const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
await context.route('**/app.js', (route) => route.fulfill({ contentType: 'text/javascript', body: app }));
// The style sheet beside the source folder given (its static/), where there is one: a change to
// the page's CSS is compared as its script is.
const style = join(resolve(src), '..', 'static', 'style.css');
if (existsSync(style))
  await context.route('**/style.css', (route) =>
    route.fulfill({ contentType: 'text/css', body: readFileSync(style, 'utf8') }),
  );
const page = await context.newPage();
await page.goto(origin);
await page.fill('#login-name', 'alice');
await page.fill('#login-password', 'browser password');
await page.click('#sign-up');
await page.waitForSelector('#status[data-state="online"]');

const rows = () => page.evaluate(() => document.querySelectorAll('#message-list li.message').length);
const renders = () => page.evaluate(() => window.__renders?.length ?? 0);
/** The last render's figures, once its frame is painted. */
async function lastRender(after) {
  await page.waitForFunction(
    (n) => (window.__renders?.length ?? 0) > n && window.__renders.at(-1).frame !== null,
    after,
  );
  return page.evaluate(() => window.__renders.at(-1));
}
const settled = () =>
  page.waitForFunction(
    () => document.querySelectorAll('#message-list li.message:not([data-laid])').length === 0,
    null,
    {
      timeout: 120_000,
    },
  );
/**
 * With PROFILE set: where the renderMessages calls of `runs` spend their time, from V8's samples
 * (self time by function, within the calls only; forced style and layout count as the function
 * that forced them).
 */
async function profiled(name, runs, once) {
  if (!process.env.PROFILE) return;
  const cdp = await context.newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
  await cdp.send('Profiler.start');
  for (let i = 0; i < runs; i++) await once();
  const { profile } = await cdp.send('Profiler.stop');
  await cdp.detach();
  const self = new Map();
  const dt = new Map(profile.nodes.map((n) => [n.id, 0]));
  // A sample's time is the gap to the next one.
  for (const [i, id] of profile.samples.entries()) dt.set(id, dt.get(id) + (profile.timeDeltas[i + 1] ?? 0));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const under = (n) => {
    const all = [];
    const walk = (node) => {
      all.push(node);
      for (const c of node.children ?? []) walk(byId.get(c));
    };
    walk(n);
    return all;
  };
  for (const call of profile.nodes.filter((n) => n.callFrame.functionName === 'renderMessages__timed'))
    for (const n of under(call)) {
      const fn = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.lineNumber}`;
      self.set(fn, (self.get(fn) ?? 0) + dt.get(n.id));
    }
  console.log(`profile, ${name} (ms per change, the top 12):`);
  for (const [fn, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 12))
    console.log(`  ${(us / 1000 / runs).toFixed(2).padStart(8)}  ${fn}`);
}

/**
 * With TRACE set: Chromium's trace of `once()` (a change and its frame), the renderer main
 * thread's top-level work summed by kind (script, style, layout, pre-paint, paint...), per change.
 */
async function traced(name, runs, prepare, once) {
  if (!process.env.TRACE) return;
  const sums = new Map();
  for (let i = 0; i < runs; i++) {
    await prepare();
    const cdp = await context.newCDPSession(page);
    const events = [];
    cdp.on('Tracing.dataCollected', ({ value }) => events.push(...value));
    const done = new Promise((resolve) => cdp.once('Tracing.tracingComplete', resolve));
    await cdp.send('Tracing.start', {
      categories: 'devtools.timeline,disabled-by-default-devtools.timeline',
      transferMode: 'ReportEvents',
    });
    await once();
    await cdp.send('Tracing.end');
    await done;
    await cdp.detach();
    const main = events.find((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
    // From the last change's call to the end of its frame.
    const stamps = (what) =>
      events.filter((e) => e.name === 'TimeStamp' && e.args?.data?.message === what).map((e) => e.ts);
    const from = stamps('render start').at(-1);
    const to = stamps('render frame end').at(-1);
    const kinds = [
      'FunctionCall',
      'EventDispatch',
      'TimerFire',
      'FireIdleCallback',
      'FireAnimationFrame',
      'UpdateLayoutTree',
      'Layout',
      'PrePaint',
      'Paint',
      'Layerize',
      'IntersectionObserverController::computeIntersections',
      'UpdateLayer',
      'CommitLoad',
    ];
    for (const e of events)
      if (
        e.ph === 'X' &&
        e.pid === main?.pid &&
        e.tid === main?.tid &&
        kinds.includes(e.name) &&
        e.ts + (e.dur ?? 0) >= from &&
        e.ts <= to
      )
        sums.set(e.name, (sums.get(e.name) ?? 0) + (e.dur ?? 0));
  }
  console.log(`trace, ${name}: from the call to its frame's end (ms per change; nested kinds in each):`);
  for (const [kind, us] of [...sums].sort((a, b) => b[1] - a[1]))
    console.log(`  ${(us / 1000 / runs).toFixed(2).padStart(8)}  ${kind}`);
}

let sent = 0;
async function newMessage() {
  const before = await renders();
  sent++;
  const ack = await bob.request({
    type: 'send',
    room: 'general',
    id: `n${sent}`,
    text: `new message ${sent}`,
  });
  await page.waitForSelector(`#message-list li.message[data-seq="${ack.seq}"]`, { state: 'attached' });
  return lastRender(before);
}
async function reaction(on) {
  const before = await renders();
  await carol.request({ type: 'react', room: 'general', target: N - 2, emoji: '👍', on });
  return lastRender(before);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const say = (name, results) => {
  const f = (xs) =>
    `median ${median(xs).toFixed(2)} ms (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;
  console.log(
    `${name.padEnd(34)} call ${f(results.map((r) => r.call))}   to frame painted ${f(results.map((r) => r.frame))}`,
  );
  const unlaid = results.map((r) => r.unlaid);
  console.log(
    `${''.padEnd(34)} rows ${results[0].rows}, rows not yet laid out at the call: ${Math.min(...unlaid)}-${Math.max(...unlaid)}`,
  );
};

await page.waitForFunction((n) => document.querySelectorAll('#message-list li.message').length >= n, N, {
  timeout: 120_000,
});
console.log(`source ${resolve(src)}: ${await rows()} message rows`);
await settled();
// Warm-up, not counted.
for (let i = 0; i < 3; i++) {
  await newMessage();
  await settled();
}
const messages = [];
for (let i = 0; i < RUNS; i++) {
  messages.push(await newMessage());
  await settled();
}
say('settled, a new message', messages);
await profiled('settled, a new message', 5, async () => {
  await newMessage();
  await settled();
});
const reactions = [];
for (let i = 0; i < RUNS; i++) reactions.push(await reaction(i % 2 === 0));
say('settled, a reaction', reactions);

// A new message right after the first draw, while the idle steps lay the rows out.
async function busyPrepare() {
  await page.reload();
  await page.waitForFunction((n) => document.querySelectorAll('#message-list li.message').length >= n, N, {
    timeout: 120_000,
  });
  // Some of the rows laid out, not all: the steps are under way.
  await page.waitForFunction(
    (n) => document.querySelectorAll('#message-list li.message:not([data-laid])').length < n * 0.8,
    N,
  );
}
const busy = [];
const steps = [];
const settleTimes = [];
for (let i = 0; i < RUNS; i++) {
  await busyPrepare();
  const m = await newMessage();
  if (m.unlaid > 0) busy.push(m);
  await settled();
  const load = await page.evaluate(() => window.__idle ?? []);
  steps.push(...load);
  // From the page's load to its last step's end: every row laid out.
  if (load.length > 0) settleTimes.push(load.at(-1).end);
}
if (busy.length > 0) say('idle steps under way, a new message', busy);
else console.log('idle steps under way: none caught before the steps ended');
// The idle steps of those page loads: how long each took, and by how much it overran its deadline.
{
  const took = steps.map((s) => s.took);
  const over = steps.map((s) => s.took - s.left);
  const f = (xs) => `median ${median(xs).toFixed(2)} ms, max ${Math.max(...xs).toFixed(2)} ms`;
  console.log(
    `${'idle steps (page loads above)'.padEnd(34)} ${steps.length} steps (${(steps.length / RUNS).toFixed(1)} a load); took ${f(took)}; past the deadline ${f(over)}, ${over.filter((x) => x > 0).length} overran`,
  );
  console.log(`${''.padEnd(34)} every row laid out, from the page's load: ${f(settleTimes)}`);
  // A step's two parts, from all the steps that laid out rows: least squares of its time on its
  // rows (the fixed part, whatever the size, and the time a row), and the least size they give.
  const fit = steps.filter((s) => s.rows > 0);
  const n = fit.length;
  const mx = fit.reduce((a, s) => a + s.rows, 0) / n;
  const my = fit.reduce((a, s) => a + s.took, 0) / n;
  const sxy = fit.reduce((a, s) => a + (s.rows - mx) * (s.took - my), 0);
  const sxx = fit.reduce((a, s) => a + (s.rows - mx) ** 2, 0);
  const perRow = sxx > 0 ? sxy / sxx : Number.NaN;
  const fixed = my - perRow * mx;
  const sizes = fit.map((s) => s.rows);
  console.log(
    `${''.padEnd(34)} rows a step: median ${median(sizes)} (${Math.min(...sizes)}-${Math.max(...sizes)}); fit: ${fixed.toFixed(2)} ms a step + ${(perRow * 1000).toFixed(1)} µs a row (least size fixed/perRow ${Math.ceil(fixed / perRow)} rows)`,
  );
}
await traced('idle steps under way, a new message', 5, busyPrepare, newMessage);
await settled();
await traced('settled, a new message', 5, settled, newMessage);

await browser.close();
bob.ws.close();
carol.ws.close();
await server.close();
rmSync(dir, { recursive: true, force: true });
