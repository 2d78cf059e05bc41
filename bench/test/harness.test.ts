// The benchmark harness's own parts: statistics, /proc parsing, report and chart generation,
// command lines, and the servers' start/stop contract. No speed is measured here.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
// @ts-expect-error: plain ESM JavaScript (the runner runs on Node without a build step)
import { jsonMessage } from '../clients/deflate-echo.mjs';
import {
  idleSettled,
  parseCpuInfo,
  parseCpuTicks,
  parseFdLimit,
  parseRssAnon,
  parseVmRss,
  rssPerConnKiB,
  // @ts-expect-error: plain ESM JavaScript (tsc reports a multi-line import at its module name)
} from '../lib/proc.mjs';
import {
  formatNumber,
  formatRatio,
  renderCurveSvgs,
  renderLineChart,
  renderMarkdown,
  renderSvg,
  summarize,
  // @ts-expect-error: plain ESM JavaScript (tsc reports a multi-line import at its module name)
} from '../lib/report.mjs';
import {
  CURVES,
  costMetrics,
  curveScenarios,
  lastRssReadMs,
  PROFILES,
  SCENARIOS,
  scenarioTitle,
  serverOrder,
  wsloadArgs,
  // @ts-expect-error: plain ESM JavaScript (tsc reports a multi-line import at its module name)
} from '../lib/scenarios.mjs';
// @ts-expect-error: plain ESM JavaScript
import { median, meetsGoal, ratio } from '../lib/stats.mjs';

describe('median', () => {
  it('takes the middle value of an odd count, unsorted input', () => {
    expect(median([5, 1, 3])).toBe(3);
  });
  it('averages the two middle values of an even count', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
  it('ignores missing and non-finite values, and is null when none is left', () => {
    expect(median([null, 7, Number.NaN, 9, undefined, 8])).toBe(8);
    expect(median([])).toBeNull();
    expect(median([null])).toBeNull();
  });
  it('does not reorder the caller’s array', () => {
    const xs = [3, 1, 2];
    median(xs);
    expect(xs).toEqual([3, 1, 2]);
  });
});

describe('ratios and goals', () => {
  it('divides, and is null when a side is missing or the divisor is zero', () => {
    expect(ratio(300, 100)).toBe(3);
    expect(ratio(null, 100)).toBeNull();
    expect(ratio(1, 0)).toBeNull();
  });
  it('checks >= and <= goals; a missing ratio is neither met nor unmet', () => {
    expect(meetsGoal(3, { op: '>=', target: 3 })).toBe(true);
    expect(meetsGoal(2.99, { op: '>=', target: 3 })).toBe(false);
    expect(meetsGoal(0.8, { op: '<=', target: 0.8 })).toBe(true);
    expect(meetsGoal(0.81, { op: '<=', target: 0.8 })).toBe(false);
    expect(meetsGoal(null, { op: '>=', target: 1 })).toBeNull();
    expect(() => meetsGoal(1, { op: '>', target: 1 })).toThrow(/unknown goal operator/);
  });
});

describe('/proc parsing', () => {
  const status = [
    'Name:\tnode',
    'VmPeak:\t 1234567 kB',
    'VmHWM:\t   99999 kB',
    'VmRSS:\t   51234 kB',
    'RssAnon:\t   40000 kB',
    'Threads:\t7',
  ].join('\n');
  it('reads VmRSS (not VmHWM or RssAnon) in bytes', () => {
    expect(parseVmRss(status)).toBe(51234 * 1024);
  });
  it('reads RssAnon, the anonymous part of the RSS, in bytes', () => {
    expect(parseRssAnon(status)).toBe(40000 * 1024);
    expect(parseRssAnon('Name:\tnode\n')).toBeNull();
  });
  it('is null without a VmRSS line (a zombie process has none)', () => {
    expect(parseVmRss('Name:\tnode\nState:\tZ (zombie)\n')).toBeNull();
  });
  it('computes KiB per connection from two readings', () => {
    expect(rssPerConnKiB(50 * 2 ** 20, 50 * 2 ** 20 + 10000 * 6 * 1024, 10000)).toBeCloseTo(6, 10);
    expect(rssPerConnKiB(null, 1, 1)).toBeNull();
  });
  it('calls an idle server settled once its RSS has fallen and stopped moving', () => {
    const MiB = 2 ** 20;
    const before = 50 * MiB;
    const settled = 100 * MiB; // the connections added 50 MiB
    const flat = (v: number, n: number) => Array.from({ length: n }, () => v * MiB);
    // Still holding the ramp's young generation: not settled, however long.
    expect(idleSettled(flat(100, 60), before, settled)).toBe(false);
    // Fallen by less than 10 % of the 50 MiB: not yet.
    expect(idleSettled(flat(96, 10), before, settled)).toBe(false);
    // Fallen to 70 MiB, but still moving in the last 5 s.
    expect(idleSettled([...flat(100, 20), ...flat(80, 3), ...flat(70, 3)], before, settled)).toBe(false);
    // Fallen and quiet for 5 s (6 samples within 1 % of 50 MiB).
    expect(idleSettled([...flat(100, 20), ...flat(70, 6)], before, settled)).toBe(true);
    expect(idleSettled([...flat(70, 5), 70.4 * MiB], before, settled)).toBe(true);
    expect(idleSettled([...flat(70, 5), 70.6 * MiB], before, settled)).toBe(false);
    // Nothing added (or no reading): never settled by this rule.
    expect(idleSettled(flat(40, 10), before, before)).toBe(false);
    expect(rssPerConnKiB(1, 2, 0)).toBeNull();
  });
  it('adds utime and stime (fields 14 and 15) of /proc/PID/stat, a command name with spaces included', () => {
    const stat = '4242 (node my server) S 1 4242 4242 0 -1 4194560 9000 0 0 0 1234 567 0 0 20 0 11 0 100 0 0';
    expect(parseCpuTicks(stat)).toBe(1234 + 567);
    expect(parseCpuTicks('4242 (node) Z')).toBeNull();
  });
  it('reads the soft and hard open-files limits (null when unlimited)', () => {
    const text =
      'Limit  Soft Limit  Hard Limit  Units\nMax open files            20000                20000                files     \n';
    expect(parseFdLimit(text)).toEqual({ soft: 20000, hard: 20000 });
    expect(parseFdLimit('Max open files   1024   unlimited   files')).toEqual({ soft: 1024, hard: null });
  });
  it('reads the CPU model and counts processors in /proc/cpuinfo', () => {
    const text =
      'processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t: fpu\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) Processor\n';
    expect(parseCpuInfo(text)).toEqual({ model: 'Intel(R) Xeon(R) Processor', processors: 2 });
  });
});

describe('scenarios and command lines', () => {
  const byId = (id: number) => SCENARIOS.find((s: { id: number }) => s.id === id);
  it('covers the scenarios of issues 5 and 17 with issue 17’s goals', () => {
    expect(SCENARIOS.map((s: { id: number }) => s.id)).toEqual([1, 2, 3, 8, 4, 5, 6, 7]);
    expect(byId(1).goals).toEqual([{ metric: 'msgs_per_s', vs: 'uws', op: '>=', target: 1 }]);
    expect(byId(8).load.args()).toEqual(['-c', '4', '-p', '2', '-s', '1m', '--binary']);
    for (const id of [3, 8]) {
      expect(byId(id).goals).toEqual([
        { metric: 'mb_per_s', vs: 'ws', op: '>=', target: 1.5 },
        { metric: 'mb_per_s', vs: 'uws', op: '>=', target: 0.6 },
      ]);
    }
    expect(byId(5).goals).toEqual([
      { metric: 'rss_per_conn_kib', vs: 'raw', op: '<=', target: 1, short: 'RSS per idle connection, 1 s' },
      {
        metric: 'rss_per_conn_kib_idle',
        vs: 'raw',
        op: '<=',
        target: 1,
        short: 'RSS per idle connection, once idle',
      },
    ]);
  });
  it('runs raw node:net and uWS everywhere but 7 (deflate), the broadcast servers in 4', () => {
    const having = (server: string) =>
      SCENARIOS.filter((s: { scripts: object }) => server in s.scripts).map((s: { id: number }) => s.id);
    expect(having('raw')).toEqual([1, 2, 3, 8, 4, 5, 6]);
    expect(having('uws')).toEqual([1, 2, 3, 8, 4, 5, 6]);
    expect(byId(4).scripts).toMatchObject({ raw: 'raw-broadcast.mjs', uws: 'uws-broadcast.mjs' });
  });
  it('gives wsload --allow-masked for the raw echo server only, -v wherever CPU is sampled', () => {
    const args = wsloadArgs(byId(1), 'raw', PROFILES.full, 4321);
    expect(args).toEqual([
      'echo',
      '--url',
      'ws://127.0.0.1:4321/',
      '-c',
      '100',
      '-p',
      '10',
      '-s',
      '64',
      '--text',
      '-w',
      '2',
      '-d',
      '5',
      '-v',
      '--allow-masked',
    ]);
    expect(wsloadArgs(byId(1), 'ws', PROFILES.full, 4321)).not.toContain('--allow-masked');
    // The raw broadcast server sends unmasked frames of its own.
    expect(wsloadArgs(byId(4), 'raw', PROFILES.full, 4321)).not.toContain('--allow-masked');
    expect(wsloadArgs(byId(5), 'raw', PROFILES.full, 4321)).not.toContain('-v');
  });
  it('holds idle connections long enough to read RSS after the settle delay, without a warm-up', () => {
    const args = wsloadArgs(byId(5), 'ws', PROFILES.full, 1);
    expect(args.slice(0, 5)).toEqual(['hold', '--url', 'ws://127.0.0.1:1/', '-c', '10000']);
    expect(args).not.toContain('-w');
    expect(Number(args[args.indexOf('-d') + 1]) * 1000).toBeGreaterThan(PROFILES.full.settleMs);
  });
  it('holds scenario 5 for its idle reading in full runs, but not its variant, quick runs or the curves', () => {
    const holdMs = (args: string[]) => Number(args[args.indexOf('-d') + 1]) * 1000;
    const sc = byId(5);
    expect(PROFILES.full.idleMs).toBe(120_000);
    expect(lastRssReadMs(sc, PROFILES.full)).toBe(120_000);
    expect(holdMs(wsloadArgs(sc, 'riptide', PROFILES.full, 1))).toBeGreaterThan(120_000);
    // The variant (1 MiB young generation) reads once, after the settle delay.
    expect(lastRssReadMs(sc, PROFILES.full, sc.variant)).toBe(PROFILES.full.settleMs);
    expect(holdMs(wsloadArgs(sc, 'riptide', PROFILES.full, 1, sc.variant))).toBeLessThan(5000);
    expect(lastRssReadMs(sc, PROFILES.quick)).toBe(PROFILES.quick.settleMs);
    const idle10k = curveScenarios(PROFILES.full).find((p: { id: string }) => p.id === 'idle-10k');
    expect(lastRssReadMs(idle10k, PROFILES.full)).toBe(PROFILES.full.settleMs);
    expect(holdMs(wsloadArgs(idle10k, 'riptide', PROFILES.full, 1))).toBeLessThan(5000);
  });
  it('measures memory again with a 1 MiB young generation in 5 and 7, shown as info rows with ratios', () => {
    for (const id of [5, 7]) {
      const sc = byId(id);
      expect(sc.variant.nodeFlags).toEqual(['--max-semi-space-size=1']);
      for (const to of Object.values(sc.variant.metrics)) {
        const row = sc.info.find((m: { key: string }) => m.key === to);
        expect(row).toMatchObject({ showRatios: true });
      }
    }
    // The goals stay on node's defaults.
    expect(byId(5).goals.map((g: { metric: string }) => g.metric)).toEqual([
      'rss_per_conn_kib',
      'rss_per_conn_kib_idle',
    ]);
  });
  it('measures the 1 MiB echoes again with glibc told to keep its heap top, for every server', () => {
    for (const id of [3, 8]) {
      const sc = byId(id);
      expect(sc.variant.nodeFlags).toBeUndefined();
      expect(sc.variant.env).toEqual({ MALLOC_TOP_PAD_: String(64 * 1024 * 1024) });
      // Throughput and CPU per MB come back under the variant's own names, as info rows.
      expect(sc.variant.metrics).toEqual({
        mb_per_s: 'mb_per_s_toppad',
        server_cpu_us_per_MB: 'server_cpu_us_per_MB_toppad',
      });
      for (const to of Object.values(sc.variant.metrics)) {
        expect(sc.info.find((m: { key: string }) => m.key === to)).toMatchObject({ showRatios: true });
      }
      // The goals stay on glibc's defaults.
      expect(sc.goals.map((g: { metric: string }) => g.metric)).toEqual(['mb_per_s', 'mb_per_s']);
    }
  });
  it('derives the server CPU cost per unit of work from the CPU % and the rate', () => {
    // 80% of a core for 200k messages/s: 4 µs per message.
    expect(costMetrics(byId(1), { server_cpu_pct: 80, msgs_per_s: 200e3 })).toEqual({
      server_cpu_us_per_message: 4,
    });
    expect(costMetrics(byId(3), { server_cpu_pct: 50, mb_per_s: 1000 })).toEqual({
      server_cpu_us_per_MB: 500,
    });
    expect(costMetrics(byId(6), { server_cpu_pct: 99, handshakes_per_s: 9000 })).toEqual({
      server_cpu_us_per_handshake: 110,
    });
    // No CPU reading (quick mode's 1 s window), no rate, or a scenario without a cost: nothing.
    expect(costMetrics(byId(1), { msgs_per_s: 200e3 })).toEqual({});
    expect(costMetrics(byId(1), { server_cpu_pct: 80, msgs_per_s: 0 })).toEqual({});
    expect(costMetrics(byId(5), { server_cpu_pct: 1, rss_per_conn_kib: 5 })).toEqual({});
  });
  it('fills the connection count into titles', () => {
    expect(scenarioTitle(byId(4), PROFILES.full)).toBe(
      'Broadcast 64 B to 10,000 receivers (riptide and uWS: pub/sub; ws: loop over clients)',
    );
  });
  it('makes every curve point a scenario with the curve’s windows and no goals', () => {
    const points = curveScenarios(PROFILES.full);
    expect(points.map((p: { id: string }) => p.id)).toEqual([
      'idle-1k',
      'idle-10k',
      'idle-50k',
      'idle-100k',
      'bcast-100',
      'bcast-1k',
      'bcast-10k',
      'bcast-50k',
      'size-64B',
      'size-1KiB',
      'size-16KiB',
      'size-64KiB',
      'size-256KiB',
      'size-1MiB',
      'size-4MiB',
    ]);
    for (const p of points) {
      expect(p.goals).toEqual([]);
      expect(Object.keys(p.scripts)).toEqual(['riptide', 'ws', 'uws', 'raw']);
    }
    const size = points.find((p: { id: string }) => p.id === 'size-4MiB');
    expect(wsloadArgs(size, 'uws', PROFILES.full, 9)).toEqual([
      'echo',
      '--url',
      'ws://127.0.0.1:9/',
      '-c',
      '8',
      '-p',
      '2',
      '-s',
      String(4 << 20),
      '--binary',
      '-w',
      String(PROFILES.full.curveWarmup),
      '-d',
      String(PROFILES.full.curveDuration),
      '-v',
    ]);
    // Quick mode measures fewer points.
    expect(curveScenarios(PROFILES.quick).length).toBeLessThan(points.length);
  });
  it('spreads more than 20,000 connections over several source addresses, with a longer ramp', () => {
    const points = curveScenarios(PROFILES.full);
    const args = (id: string) =>
      wsloadArgs(
        points.find((p: { id: string }) => p.id === id),
        'riptide',
        PROFILES.full,
        1,
      );
    expect(args('idle-10k')).not.toContain('--source-addrs');
    const big = args('idle-100k');
    expect(big[big.indexOf('--source-addrs') + 1]).toBe('5');
    expect(Number(big[big.indexOf('--ramp-timeout') + 1])).toBeGreaterThanOrEqual(50);
    const bcast = args('bcast-50k');
    expect(bcast[bcast.indexOf('--source-addrs') + 1]).toBe('3');
  });
  it('rotates the servers’ order each round', () => {
    const s = ['riptide', 'ws', 'raw'];
    expect(serverOrder(s, 0)).toEqual(['riptide', 'ws', 'raw']);
    expect(serverOrder(s, 1)).toEqual(['ws', 'raw', 'riptide']);
    expect(serverOrder(s, 2)).toEqual(['raw', 'riptide', 'ws']);
    expect(serverOrder(s, 3)).toEqual(s);
  });
});

// Synthetic measurements: scenario 1 (riptide 3.2x ws: met) and 5 (riptide memory 0.9x ws: not met).
function fakeRuns() {
  const runs: object[] = [];
  const s1 = {
    riptide: [310e3, 300e3, 320e3],
    ws: [100e3, 90e3, 110e3],
    uws: [300e3, 290e3, 310e3],
    raw: [900e3, 1000e3, 950e3],
  };
  const s5 = { riptide: [5.4, 5.5, 5.3], ws: [6, 6.1, 5.9], uws: [0.5, 0.6, 0.55], raw: [4, 4.5, 4.4] };
  // Once idle (the second reading of scenario 5).
  const s5idle = { riptide: [1.8, 1.9, 1.85], ws: [3.5, 3.6, 3.5], uws: [0.5, 0.6, 0.55], raw: [2, 2.1, 2] };
  for (let round = 0; round < 3; round++) {
    for (const [server, v] of Object.entries(s1)) {
      runs.push({
        round,
        scenario: 1,
        server,
        status: 'ok',
        metrics: { msgs_per_s: v[round], p50_us: 900, server_cpu_us_per_message: 1e6 / v[round] },
      });
    }
    for (const [server, v] of Object.entries(s5)) {
      runs.push({
        round,
        scenario: 5,
        server,
        status: 'ok',
        metrics: {
          rss_per_conn_kib: v[round],
          rss_per_conn_kib_idle: s5idle[server as keyof typeof s5idle][round],
        },
      });
    }
    runs.push({
      round,
      scenario: 7,
      server: 'riptide',
      status: 'unavailable',
      error: 'the server did not accept permessage-deflate',
    });
    runs.push({
      round,
      scenario: 7,
      server: 'ws',
      status: 'ok',
      metrics: { msgs_per_s: 500, rss_per_conn_kib: 560 },
    });
  }
  // One failed ws round in scenario 1: left out of the median.
  runs.push({ round: 3, scenario: 1, server: 'ws', status: 'failed', error: 'wsload exited 1: errors=3' });
  return runs;
}
const picked = SCENARIOS.filter((s: { id: number }) => [1, 5, 7].includes(s.id));

describe('summarize', () => {
  const summary = summarize(fakeRuns(), picked);
  it('takes medians over the successful rounds and ratios of the medians', () => {
    const m = summary[0].metrics[0];
    expect(m.values.riptide.median).toBe(310e3);
    expect(m.values.ws.median).toBe(100e3);
    expect(m.values.ws.rounds).toEqual([100e3, 90e3, 110e3]);
    expect(m.ratios['riptide/ws']).toBeCloseTo(3.1, 10);
    expect(m.ratios['riptide/raw']).toBeCloseTo(310 / 950, 10);
    expect(m.ratios['riptide/uws']).toBeCloseTo(310 / 300, 10);
    expect(summary[0].status.ws).toMatchObject({ ok: 3, failed: 1 });
  });
  it('marks each goal met, not met or not available', () => {
    expect(summary[0].goals[0]).toMatchObject({ vs: 'uws', met: true });
    const [vsRaw] = summary[1].goals;
    expect(vsRaw.ratio).toBeCloseTo(5.4 / 4.4, 10);
    expect(vsRaw.met).toBe(false);
    expect(summary[2].goals.map((g: { met: boolean | null }) => g.met)).toEqual([null, null]);
  });
});

describe('RESULTS.md', () => {
  const summary = summarize(fakeRuns(), picked);
  const md = renderMarkdown(summary, {
    date: '2026-11-22T04:00:00.000Z',
    invocation: 'npm run bench',
    quick: false,
    rounds: 3,
    node: 'v20.20.2',
    cpu: { model: 'Test CPU @ 2.5GHz', processors: 2 },
    versions: { ws: '8.23.0' },
    loadavg: { start: [1, 2, 3], end: null },
    profile: { ...PROFILES.full, serverCpu: 0, clientCpu: 1 },
    wallSeconds: 400,
    commands: [{ title: 'scenario 1, ws', lines: ['taskset -c 0 node bench/servers/ws-echo.mjs 0'] }],
    method: ['a method line'],
  });
  it('lists every goal with its measured ratio and status', () => {
    expect(md).toContain(
      '| 1 | Echo 64 B text, 100 connections, 10 in flight each | riptide ≥ 1x uWS | 1.03x | met |',
    );
    expect(md).toMatch(/\| 5 \| .* \| riptide ≤ 1x raw net \| 1\.23x \| not met \|/);
    expect(md).toMatch(/\| 7 \| .*\(messages\/s\) \| riptide ≥ 1\.5x ws \| n\/a \| not available \|/);
  });
  it('has a table per scenario with the medians, the rounds and the ratios', () => {
    expect(md).toContain('### 1. Echo 64 B text, 100 connections, 10 in flight each');
    expect(md).toContain(
      '| | riptide | ws (+bufferutil, utf-8-validate) | uWebSockets.js (C++) | raw node:net | riptide/ws | riptide/uWS | riptide/raw | ws/raw | uWS/raw |',
    );
    const headline =
      '| messages/s | **310k** (310k, 300k, 320k) | **100k** (100k, 90k, 110k) | **300k** (300k, 290k, 310k) | **950k** (900k, 1M, 950k) | 3.10x | 1.03x | 0.33x | 0.11x | 0.32x |';
    expect(md).toContain(headline);
    expect(md).toContain('- ws: failed in 1 round(s): wsload exited 1: errors=3');
    // The cost row follows the headline with its own ratios; other info rows have none.
    expect(md).toContain(
      `${headline}\n| server CPU µs per message | **3.23** (3.23, 3.33, 3.13) | **10** (10, 11.1, 9.09) | **3.33** (3.33, 3.45, 3.23) | **1.05** (1.11, 1, 1.05) | 0.32x | 0.97x | 3.06x | 9.50x | 3.17x |`,
    );
    expect(md).toMatch(/\| p50 latency \(µs\) \| \*\*900\*\* .* \| {2}\| {2}\| {2}\| {2}\| {2}\|/);
    expect(md).toContain('| messages/s | not available | **500** (500, 500, 500) | n/a |');
  });
  it('names the machine, the versions and the commands', () => {
    expect(md).toContain('- CPU: Test CPU @ 2.5GHz (2 logical processors)');
    expect(md).toContain('- Node v20.20.2; ws 8.23.0');
    expect(md).toContain('```sh\n# scenario 1, ws\ntaskset -c 0 node bench/servers/ws-echo.mjs 0\n```');
    expect(md).toContain('- a method line');
  });
});

describe('number formatting', () => {
  it('uses three significant digits and k/M suffixes', () => {
    expect(formatNumber(96_123)).toBe('96.1k');
    expect(formatNumber(1_234_567)).toBe('1.23M');
    expect(formatNumber(3621.4)).toBe('3621');
    expect(formatNumber(6.123)).toBe('6.12');
    expect(formatNumber(null)).toBe('n/a');
    expect(formatRatio(0.1)).toBe('0.10x');
  });
});

describe('ratios.svg', () => {
  const svg = renderSvg(summarize(fakeRuns(), picked), { title: 'ratios <&> goals' });
  it('is one SVG document with the title escaped', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('<title>ratios &lt;&amp;&gt; goals</title>');
    expect(svg.match(/<text/g)?.length).toBe(svg.match(/<\/text>/g)?.length);
  });
  it('draws a bar per measured goal, coloured by status, and "not available" for the rest', () => {
    const bars = [...svg.matchAll(/<rect x="(\d+)" y="[\d.]+" width="([\d.]+)" height="18" fill="(#\w+)"/g)];
    // goals: scenario 1 vs uWS (met), scenario 5 vs raw 1 s after the ramp (not met) and once
    // idle (met); scenario 7: two not available.
    expect(bars.map((b) => b[3])).toEqual(['#2e7d32', '#c62828', '#2e7d32']);
    expect(svg.match(/not available<\/text>/g)?.length).toBe(2);
    // Bar lengths are proportional to the ratios (310/300 vs 5.4/4.4).
    expect(Number(bars[0][2]) / Number(bars[1][2])).toBeCloseTo(310 / 300 / (5.4 / 4.4), 1);
    expect(svg).toContain('>1.03x</text>');
    expect(svg).toContain('>1.23x ✗</text>');
    expect(svg).toContain('>0.93x</text>');
    expect(svg).toContain('>5. RSS per idle connection, once idle</text>');
  });
  it('marks each goal’s target', () => {
    expect(svg.match(/<title>goal /g)?.length).toBe(5);
  });
});

describe('scale curves', () => {
  // Two points of the broadcast curve: ws skipped at 50k (fd limit), uWS unavailable.
  const points = curveScenarios(PROFILES.full).filter((p: { id: string }) =>
    ['bcast-10k', 'bcast-50k'].includes(p.id),
  );
  const runs: object[] = [];
  for (const [id, rate] of [
    ['bcast-10k', 100e3],
    ['bcast-50k', 80e3],
  ] as const) {
    for (const round of [0, 1, 2]) {
      runs.push({
        round,
        scenario: id,
        server: 'riptide',
        status: 'ok',
        metrics: { deliveries_per_s: rate, delivery_p99_ms: 20 },
      });
      runs.push({
        round,
        scenario: id,
        server: 'raw',
        status: 'ok',
        metrics: { deliveries_per_s: rate * 2, delivery_p99_ms: 10 },
      });
      runs.push({ round, scenario: id, server: 'uws', status: 'unavailable', error: 'no binary' });
      runs.push(
        id === 'bcast-50k'
          ? { round, scenario: id, server: 'ws', status: 'skipped', error: 'needs 50257 file descriptors' }
          : {
              round,
              scenario: id,
              server: 'ws',
              status: 'ok',
              metrics: { deliveries_per_s: 50e3, delivery_p99_ms: 40 },
            },
      );
    }
  }
  const summary = summarize(runs, points);
  it('tabulates each metric per point in RESULTS.md, outside the goals table', () => {
    const md = renderMarkdown(summary, {
      date: 'd',
      invocation: 'npm run bench',
      quick: false,
      rounds: 3,
      node: 'v20',
      cpu: { model: 'x', processors: 2 },
      versions: {},
      loadavg: { start: null, end: null },
      profile: { ...PROFILES.full, serverCpu: 0, clientCpu: 1 },
      wallSeconds: 1,
      commands: [],
    });
    expect(md).toContain('## Scale curves (issue 17)');
    expect(md).toContain('| 10k receivers | 100k | 50k | not available | 200k | n/a | 2.00x | 0.50x |');
    expect(md).toContain('| 50k receivers | 80k | skipped | not available | 160k | n/a | n/a | 0.50x |');
    expect(md).not.toMatch(/\| bcast-10k \| .* \| (met|not met) \|/);
  });
  it('draws one chart per metric with a line per server and a note on skipped points', () => {
    const svgs = new Map(renderCurveSvgs(summary, CURVES));
    expect([...svgs.keys()]).toEqual(['curve-broadcast-rate.svg', 'curve-broadcast-p99.svg']);
    const rate = svgs.get('curve-broadcast-rate.svg') as string;
    // riptide and raw: two points each; ws: one (a path of one point is still drawn as a dot).
    expect(rate.match(/<circle /g)?.length).toBe(5);
    expect(rate).toContain('not measured: 50k (skipped; RESULTS.md gives the reason');
    expect(rate.match(/<text/g)?.length).toBe(rate.match(/<\/text>/g)?.length);
  });
  it('places points on a log x axis and breaks a line at a missing value', () => {
    const svg = renderLineChart({
      title: 't',
      xLabel: 'n',
      xs: [10, 100, 1000],
      xLabels: ['10', '100', '1k'],
      series: [{ server: 'riptide', values: [1, null, 3] }],
    });
    const xs = [...svg.matchAll(/<circle cx="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(xs).toHaveLength(2);
    const path = /<path d="([^"]+)"/.exec(svg)?.[1] ?? '';
    expect(path.match(/M/g)?.length).toBe(2); // two separate pieces
    expect(xs[1] - xs[0]).toBeGreaterThan(0);
  });
});

describe('deflate-echo messages', () => {
  it('are JSON-like text of the exact size, different from each other', () => {
    const a = jsonMessage(16384, 1);
    const b = jsonMessage(16384, 2);
    expect(a.length).toBe(16384);
    expect(Buffer.byteLength(a)).toBe(16384);
    expect(Array.isArray(JSON.parse(a))).toBe(true);
    expect(a).not.toBe(b);
    expect(jsonMessage(16384, 1)).toBe(a);
  });
});

// The servers' contract with the runner: "listening <port>" on stdout, exit 0 on SIGTERM.
function startServer(script: string): Promise<{ child: ChildProcess; port: number }> {
  const path = fileURLToPath(new URL(`../servers/${script}`, import.meta.url));
  const child = spawn(process.execPath, [path, '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => {
      const m = /^listening (\d+)$/.exec(line);
      if (m) resolve({ child, port: Number(m[1]) });
      else {
        child.kill('SIGKILL');
        reject(new Error(`unexpected first line: ${line}`));
      }
    });
    child.once('exit', (code) => reject(new Error(`${script} exited ${code}`)));
  });
}

/** Resolves once `check()` holds (looked at every 5 ms): a wait on the data, not on the clock. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}

/** Resolves once `received` holds at least `n` bytes. */
function gotBytes(received: Buffer[], n: number): Promise<void> {
  return until(() => Buffer.concat(received).length >= n);
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

describe('benchmark servers', () => {
  it('raw-net answers the upgrade, reflects bytes unchanged and ends after the client close frame', async () => {
    const { child, port } = await startServer('raw-net.mjs');
    try {
      const key = 'dGhlIHNhbXBsZSBub25jZQ==';
      const sock = net.connect(port, '127.0.0.1');
      const received: Buffer[] = [];
      sock.on('data', (d) => received.push(d));
      let hasEnded = false;
      const ended = new Promise((r) => sock.once('end', r)).then(() => {
        hasEnded = true;
      });
      sock.write(
        `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      const expectedHead = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`;
      await gotBytes(received, expectedHead.length);
      const head = Buffer.concat(received).toString('latin1');
      expect(accept).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo='); // RFC 6455 section 1.3's example
      expect(head).toBe(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      received.length = 0;
      const frame = Buffer.from([0x81, 0x85, 1, 2, 3, 4, 0x69, 0x67, 0x6f, 0x68, 0x6e]); // masked "hello"
      sock.write(frame);
      await gotBytes(received, frame.length);
      expect(Buffer.concat(received)).toEqual(frame);
      received.length = 0;
      // A binary frame (200 payload bytes, zero mask) whose last 10 bytes, 0x88 0x84 ..., would
      // pass for a lone 10-byte close frame when they arrive as a read of their own: they are
      // sent once the rest has come back, so the server reads them alone.
      const binary = Buffer.concat([
        Buffer.from([0x82, 0x80 | 126, 0, 200, 0, 0, 0, 0]),
        Buffer.alloc(200, 7),
      ]);
      binary[binary.length - 10] = 0x88;
      binary[binary.length - 9] = 0x84;
      sock.write(binary.subarray(0, binary.length - 10));
      await gotBytes(received, binary.length - 10);
      sock.write(binary.subarray(binary.length - 10));
      await until(() => Buffer.concat(received).length >= binary.length || hasEnded);
      sock.write(frame);
      await until(() => Buffer.concat(received).length >= binary.length + frame.length || hasEnded);
      expect(hasEnded).toBe(false);
      expect(Buffer.concat(received)).toEqual(Buffer.concat([binary, frame]));
      received.length = 0;
      // The close frame in two reads: ended only once all of it has come in.
      const close = Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
      sock.write(close.subarray(0, 3));
      await gotBytes(received, 3);
      expect(hasEnded).toBe(false);
      sock.write(close.subarray(3));
      await ended;
      expect(Buffer.concat(received)).toEqual(close);
      sock.destroy();
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });

  it('raw-broadcast forwards each client frame, unmasked, to every open socket, and answers ping and close', async () => {
    const { child, port } = await startServer('raw-broadcast.mjs');
    try {
      const open = async () => {
        const sock = net.connect(port, '127.0.0.1');
        const received: Buffer[] = [];
        sock.on('data', (d) => received.push(d));
        sock.write(
          'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        );
        await until(() => Buffer.concat(received).includes('\r\n\r\n'));
        expect(Buffer.concat(received).toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
        received.length = 0;
        return { sock, received };
      };
      const a = await open();
      const b = await open();
      // Masked "hello", sent in two pieces: the server reassembles the frame.
      const frame = Buffer.from([0x81, 0x85, 1, 2, 3, 4, 0x69, 0x67, 0x6f, 0x68, 0x6e]);
      a.sock.write(frame.subarray(0, 4));
      await new Promise((r) => setTimeout(r, 50)); // pacing, so the pieces travel apart
      a.sock.write(frame.subarray(4));
      const unmasked = Buffer.concat([Buffer.from([0x81, 0x05]), Buffer.from('hello')]);
      await gotBytes(a.received, unmasked.length);
      await gotBytes(b.received, unmasked.length);
      expect(Buffer.concat(a.received)).toEqual(unmasked);
      expect(Buffer.concat(b.received)).toEqual(unmasked);
      b.received.length = 0;
      b.sock.write(Buffer.from([0x89, 0x81, 0, 0, 0, 0, 0x21])); // ping "!"
      await gotBytes(b.received, 3);
      expect(Buffer.concat(b.received)).toEqual(Buffer.from([0x8a, 0x01, 0x21]));
      b.received.length = 0;
      const ended = new Promise((r) => b.sock.once('end', r));
      b.sock.write(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]));
      await ended;
      expect(Buffer.concat(b.received)).toEqual(Buffer.from([0x88, 0x02, 0x03, 0xe8]));
      a.sock.destroy();
      b.sock.destroy();
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });

  it('ws-echo echoes text and binary with ws and its native add-ons', async () => {
    const { child, port } = await startServer('ws-echo.mjs');
    try {
      const { ws, echo } = await echoClient(port);
      expect(await echo('hé')).toEqual([Buffer.from('hé'), false]);
      expect(await echo(Buffer.from([0, 255]))).toEqual([Buffer.from([0, 255]), true]);
      ws.close();
      await new Promise((r) => ws.once('close', r));
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });
});

/** A ws client of an echo server; `echo(data)` sends and resolves with the next message. */
async function echoClient(port: number) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  await new Promise((r, j) => ws.once('open', r).once('error', j));
  const echo = (data: string | Buffer) =>
    new Promise<[Buffer, boolean]>((r) => {
      ws.once('message', (d, isBinary) => r([d as Buffer, isBinary]));
      ws.send(data);
    });
  return { ws, echo };
}

describe('uWebSockets.js servers (the uwebsockets devDependency)', () => {
  it('uws-echo echoes text and binary', async () => {
    const { child, port } = await startServer('uws-echo.mjs');
    try {
      const { ws, echo } = await echoClient(port);
      expect(await echo('hé')).toEqual([Buffer.from('hé'), false]);
      // Above uWS's default 64 KiB send limit, which the bench servers lift.
      const big = Buffer.alloc(300 * 1024, 7);
      expect(await echo(big)).toEqual([big, true]);
      ws.close();
      await new Promise((r) => ws.once('close', r));
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });
  it('uws-broadcast publishes every message to every connected client', async () => {
    const { child, port } = await startServer('uws-broadcast.mjs');
    try {
      const open = () =>
        new Promise<WebSocket>((r, j) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
          ws.once('open', () => r(ws)).once('error', j);
        });
      const [a, b] = [await open(), await open()];
      const got = (ws: WebSocket) => new Promise<string>((r) => ws.once('message', (d) => r(String(d))));
      const both = Promise.all([got(a), got(b)]);
      a.send('hello all');
      expect(await both).toEqual(['hello all', 'hello all']);
      a.close();
      b.close();
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });
});
