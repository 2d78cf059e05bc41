// The scenarios (issues 5 and 17) and the scale curves (issue 17): their servers, metrics and
// goals. Pure data plus functions that build command lines; the runner (bench/run.mjs)
// executes them.

export const SERVERS = {
  riptide: { label: 'riptide' },
  ws: { label: 'ws (+bufferutil, utf-8-validate)' },
  uws: { label: 'uWebSockets.js (C++)' },
  raw: { label: 'raw node:net' },
};

const ECHO = { riptide: 'riptide-echo.mjs', ws: 'ws-echo.mjs', uws: 'uws-echo.mjs', raw: 'raw-net.mjs' };
const BROADCAST = {
  riptide: 'riptide-broadcast.mjs',
  ws: 'ws-broadcast.mjs',
  uws: 'uws-broadcast.mjs',
  raw: 'raw-broadcast.mjs',
};

/**
 * Settings of a full run and of a quick run (`npm run bench -- --quick`, under two minutes on
 * this machine). Quick mode is for development: 2 rounds, 1 s windows and 2,000 connections in
 * scenarios 4 and 5 (opening and closing 10,000 connections alone takes several seconds).
 */
export const PROFILES = {
  // timeWaitBelow / timeWaitMaxMs: before a handshake measurement, wait (at most that long)
  // until fewer sockets than that are in TIME_WAIT (see settleTimeWait in run.mjs); quick mode
  // does not wait (draining takes about a minute). variants: also measure each scenario's
  // `variant` (the 1 MiB young generation of scenarios 5 and 7, glibc's heap pad in 3 and 8);
  // not in quick mode.
  // idleMs: scenario 5 also reads the RSS once the server has given memory back, waiting at
  // most that long after the ramp (0: not read; see `idleRead` in scenario 5).
  // curveRounds / curveWarmup / curveDuration: the scale curves' points (see CURVES) run in
  // the first curveRounds rounds only, with their own, shorter windows; curvePoints picks
  // which points of each curve a profile measures.
  full: {
    rounds: 3,
    warmup: 2,
    duration: 5,
    bigConns: 10000,
    settleMs: 1000,
    idleMs: 120_000,
    deflateConns: 100,
    timeWaitBelow: 2000,
    timeWaitMaxMs: 70_000,
    variants: true,
    curveRounds: 2,
    curveWarmup: 1,
    curveDuration: 3,
    curvePoints: 'full',
  },
  quick: {
    rounds: 2,
    warmup: 0.5,
    duration: 1,
    bigConns: 2000,
    settleMs: 300,
    idleMs: 0,
    deflateConns: 50,
    timeWaitBelow: 2000,
    timeWaitMaxMs: 0,
    variants: false,
    curveRounds: 1,
    curveWarmup: 0.5,
    curveDuration: 1,
    curvePoints: 'quick',
  },
};

const higher = 'higher';
const lower = 'lower';
const cpu = { key: 'client_cpu_pct', label: 'load generator CPU % (of one core)' };
const serverCpu = { key: 'server_cpu_pct', label: 'server CPU % (of one core)' };

/**
 * The server's CPU time per unit of work (its CPU % over the measure window divided by the
 * rate): what a message, a delivery or a handshake costs the server, a figure that stays
 * meaningful when the rate is bounded by something else (one message in flight, the kernel,
 * the load generator). Shown with ratio columns; lower is cheaper.
 */
const costOf = (per, unit) => ({
  per,
  key: `server_cpu_us_per_${unit}`,
  label: `server CPU µs per ${unit}`,
  showRatios: true,
});
/**
 * Memory measured a second time with a fixed 1 MiB young generation for every server (node's
 * --max-semi-space-size=1). V8 otherwise sizes its two semi-spaces adaptively, up to 16 MiB
 * each, and that size decides how many young-generation pages stay resident and how much
 * garbage (external Buffers included) waits for the next scavenge. The headline and the goals
 * use node's defaults; the variant separates what a library keeps from that sizing.
 */
const SMALL_YOUNG_GEN = ['--max-semi-space-size=1'];
const young1Rss = {
  key: 'rss_per_conn_kib_young1',
  label: 'KiB per connection, 1 MiB young generation (variant)',
  showRatios: true,
};

const echoInfo = [{ key: 'p50_us', label: 'p50 latency (µs)' }, serverCpu, cpu];

// Issue 17's goals: against uWebSockets.js (the fastest server a Node user can pick), ws, and
// raw node:net (the ceiling of anything on Node's net).
const vsUws = (metric, target, op = '>=') => ({ metric, vs: 'uws', op, target });
const vsWs = (metric, target, op = '>=') => ({ metric, vs: 'ws', op, target });
const vsRaw = (metric, target, op = '>=', short) => ({
  metric,
  vs: 'raw',
  op,
  target,
  ...(short ? { short } : {}),
});

/** Echo 1 MiB binary messages on 4 connections with `inFlight` messages in flight each. */
/**
 * The 1 MiB echoes measured a second time with glibc's malloc told to keep 64 MiB free at the
 * top of its heap (MALLOC_TOP_PAD_), for every server alike. With the defaults each 1 MiB
 * message buffer may come from pages the heap has just given back to the kernel (trimmed, or
 * munmapped), and then every page of every message faults; whether a process lands in that
 * state depends on what else it freed (bench/ANALYSIS.md, "The 1 MiB echoes and glibc's heap").
 * The headline and the goals use the defaults; the variant shows the WebSocket work without
 * the heap's state.
 */
const GLIBC_TOP_PAD = { MALLOC_TOP_PAD_: String(64 * 1024 * 1024) };

function echoMiB(id, inFlight) {
  return {
    id,
    title: `Echo 1 MiB binary, 4 connections, ${inFlight} in flight each`,
    scripts: ECHO,
    load: {
      tool: 'wsload',
      mode: 'echo',
      args: () => ['-c', '4', '-p', String(inFlight), '-s', '1m', '--binary'],
    },
    metrics: [{ key: 'mb_per_s', label: 'MB/s (one direction)', better: higher }],
    cost: costOf('mb_per_s', 'MB'),
    info: [
      { key: 'mb_per_s_toppad', label: 'MB/s, MALLOC_TOP_PAD_=64 MiB (variant)', showRatios: true },
      {
        key: 'server_cpu_us_per_MB_toppad',
        label: 'server CPU µs per MB, MALLOC_TOP_PAD_=64 MiB (variant)',
        showRatios: true,
      },
      ...echoInfo,
    ],
    variant: {
      env: GLIBC_TOP_PAD,
      metrics: { mb_per_s: 'mb_per_s_toppad', server_cpu_us_per_MB: 'server_cpu_us_per_MB_toppad' },
    },
    goals: [vsWs('mb_per_s', 1.5), vsUws('mb_per_s', 0.6)],
  };
}

/**
 * Each scenario: which server script each contender runs, how the load is generated, which
 * numbers are compared (the first metric is the headline) and the goals (riptide / other).
 */
export const SCENARIOS = [
  {
    id: 1,
    title: 'Echo 64 B text, 100 connections, 10 in flight each',
    scripts: ECHO,
    load: { tool: 'wsload', mode: 'echo', args: () => ['-c', '100', '-p', '10', '-s', '64', '--text'] },
    metrics: [{ key: 'msgs_per_s', label: 'messages/s', better: higher }],
    cost: costOf('msgs_per_s', 'message'),
    info: echoInfo,
    goals: [vsUws('msgs_per_s', 1)],
  },
  {
    id: 2,
    title: 'Echo 64 B text, 100 connections, 1 in flight each',
    scripts: ECHO,
    load: { tool: 'wsload', mode: 'echo', args: () => ['-c', '100', '-p', '1', '-s', '64', '--text'] },
    metrics: [{ key: 'msgs_per_s', label: 'messages/s', better: higher }],
    cost: costOf('msgs_per_s', 'message'),
    info: echoInfo,
    goals: [vsRaw('msgs_per_s', 0.95)],
  },
  echoMiB(3, 1),
  // Issue 17: with a second message in flight, the next request is already arriving while the
  // echo of the first is being written (the variant where riptide once fell below ws).
  echoMiB(8, 2),
  {
    id: 4,
    title: 'Broadcast 64 B to {conns} receivers (riptide and uWS: pub/sub; ws: loop over clients)',
    scripts: BROADCAST,
    load: {
      tool: 'wsload',
      mode: 'broadcast',
      args: (p) => ['-c', String(p.bigConns), '-s', '64', '--text', '-i', '0'],
    },
    metrics: [{ key: 'deliveries_per_s', label: 'deliveries/s', better: higher }],
    cost: costOf('deliveries_per_s', 'delivery'),
    info: [{ key: 'fanout_p50_ms', label: 'fan-out p50 (ms)' }, serverCpu, cpu],
    goals: [vsUws('deliveries_per_s', 1)],
  },
  {
    id: 5,
    title: '{conns} idle connections: server RSS per connection',
    scripts: ECHO,
    load: { tool: 'wsload', mode: 'hold', args: (p) => ['-c', String(p.bigConns)] },
    // Read the RSS a second time once the server has given memory back (idleSettled in
    // lib/proc.mjs), at most profile.idleMs after the ramp (full runs: 120 s). 1 s after the
    // ramp every V8 server still has the young generation the ramp grew (up to two 16 MiB
    // semi-spaces); an idle process runs no collection, until V8's memory reducer (armed by the
    // ramp's mark-compacts, retried every 8 s until the allocation rate is low, and after about
    // 100 s regardless) shrinks it: 22-60 s after the ramp here (bench/idle-rss-time.mjs). Not
    // in the variant (1 MiB young generation already) nor in the curves.
    idleRead: true,
    metrics: [
      { key: 'rss_per_conn_kib', label: 'KiB per connection, 1 s after the ramp', better: lower },
      {
        key: 'rss_per_conn_kib_idle',
        label: 'KiB per connection once idle (memory given back, ≤ 2 min)',
        better: lower,
      },
    ],
    info: [
      { key: 'rss_before_mib', label: 'RSS before (MiB)' },
      { key: 'rss_with_mib', label: 'RSS with the connections (MiB)' },
      { key: 'rss_per_conn_kib_immediate', label: 'KiB per connection, read without settle delay' },
      // Without the node binary's code pages that the first connections page in (up to 4 MiB
      // for the raw server, which touched less of the binary before the ramp): the heaps only.
      { key: 'rss_anon_per_conn_kib', label: 'KiB per connection, anonymous memory only (RssAnon)' },
      { key: 'rss_anon_per_conn_kib_idle', label: 'RssAnon per connection once idle' },
      { key: 'idle_wait_s', label: 'seconds from the ramp to the idle reading' },
      young1Rss,
    ],
    variant: { nodeFlags: SMALL_YOUNG_GEN, metrics: { rss_per_conn_kib: 'rss_per_conn_kib_young1' } },
    goals: [
      vsRaw('rss_per_conn_kib', 1, '<=', 'RSS per idle connection, 1 s'),
      vsRaw('rss_per_conn_kib_idle', 1, '<=', 'RSS per idle connection, once idle'),
    ],
  },
  {
    id: 6,
    title: 'Handshakes per second (16 concurrent connect/upgrade/close loops)',
    scripts: ECHO,
    load: { tool: 'wsload', mode: 'connect', args: () => ['-c', '16'] },
    metrics: [{ key: 'handshakes_per_s', label: 'handshakes/s', better: higher }],
    cost: costOf('handshakes_per_s', 'handshake'),
    info: [
      { key: 'hs_p50_ms', label: 'handshake p50 (ms)' },
      { key: 'time_wait_at_start', label: 'sockets in TIME_WAIT at the start' },
      serverCpu,
      cpu,
    ],
    goals: [vsWs('handshakes_per_s', 2), vsUws('handshakes_per_s', 0.6)],
  },
  {
    id: 7,
    // uWS is left out: the comparison runs it with compression off, and its shared
    // compressor is a different trade-off from both libraries' per-message contexts.
    title: 'Echo 16 KiB JSON-like text with permessage-deflate on both sides',
    scripts: { riptide: 'riptide-echo.mjs', ws: 'ws-echo.mjs' },
    serverArgs: ['--deflate'],
    load: { tool: 'deflate-echo', args: (p) => ['--conns', String(p.deflateConns), '--size', '16384'] },
    metrics: [
      { key: 'msgs_per_s', label: 'messages/s', better: higher },
      { key: 'rss_per_conn_kib', label: 'KiB per connection (under load)', better: lower },
    ],
    // The servers' default compression differs (riptide answers server_no_context_takeover):
    // the echo's size on the wire shows what that costs in bytes.
    cost: costOf('msgs_per_s', 'message'),
    info: [
      { key: 'wire_bytes_per_msg', label: 'echo frame bytes per 16 KiB message' },
      young1Rss,
      { key: 'msgs_per_s_young1', label: 'messages/s, 1 MiB young generation (variant)', showRatios: true },
      serverCpu,
      cpu,
    ],
    variant: {
      nodeFlags: SMALL_YOUNG_GEN,
      metrics: { rss_per_conn_kib: 'rss_per_conn_kib_young1', msgs_per_s: 'msgs_per_s_young1' },
    },
    // Issue 5's goals (issue 17 sets none for deflate).
    goals: [vsWs('msgs_per_s', 1.5), vsWs('rss_per_conn_kib', 0.5, '<=')],
  },
];

/** KiB/MiB labels for sizes and counts: 1000 -> "1k", 65536 -> "64 KiB". */
function countLabel(n) {
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n);
}
export function sizeLabel(n) {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}

/**
 * The scale curves of issue 17: each is a family of measurements at several points (x), every
 * server at every point in the same run. Each point becomes a scenario of its own (see
 * curveScenarios), with an id like "idle-10k"; the report draws one chart per chart entry.
 * `fds(x)`: file descriptors the server and wsload each need at that point; a point above
 * what the fd limit allows is skipped with a note (see the runner).
 */
export const CURVES = [
  {
    id: 'idle',
    title: 'Idle connections: RSS per connection, and the handshake rate while opening them',
    xLabel: 'open connections',
    unit: 'connections',
    points: { full: [1000, 10000, 50000, 100000], quick: [1000, 10000] },
    pointTitle: (x) => `${x.toLocaleString('en-US')} idle connections (RSS per connection, opening rate)`,
    label: countLabel,
    scripts: ECHO,
    fds: (x) => x,
    load: { tool: 'wsload', mode: 'hold', args: (x) => ['-c', String(x)] },
    metrics: [
      { key: 'rss_per_conn_kib', label: 'KiB per connection', better: lower },
      { key: 'opens_per_s', label: 'handshakes/s while opening them', better: higher },
    ],
    info: [{ key: 'hs_p99_ms', label: 'handshake p99 while opening (ms)' }],
    charts: [
      {
        file: 'curve-idle-rss.svg',
        metric: 'rss_per_conn_kib',
        title: 'Idle RSS per connection (KiB, lower is better)',
      },
      {
        file: 'curve-handshakes.svg',
        metric: 'opens_per_s',
        title: 'Handshakes per second while opening N connections (256 pending at most)',
      },
    ],
  },
  {
    id: 'bcast',
    title: 'Broadcast 64 B text (closed loop): deliveries per second and delivery latency',
    xLabel: 'receivers',
    unit: 'receivers',
    points: { full: [100, 1000, 10000, 50000], quick: [100, 1000] },
    pointTitle: (x) => `Broadcast 64 B to ${x.toLocaleString('en-US')} receivers`,
    label: countLabel,
    scripts: BROADCAST,
    fds: (x) => x + 1,
    load: {
      tool: 'wsload',
      mode: 'broadcast',
      args: (x) => ['-c', String(x), '-s', '64', '--text', '-i', '0'],
    },
    metrics: [
      { key: 'deliveries_per_s', label: 'deliveries/s', better: higher },
      { key: 'delivery_p99_ms', label: 'delivery p99 (ms)', better: lower },
    ],
    info: [serverCpu, cpu],
    charts: [
      {
        file: 'curve-broadcast-rate.svg',
        metric: 'deliveries_per_s',
        title: 'Broadcast deliveries per second',
      },
      {
        file: 'curve-broadcast-p99.svg',
        metric: 'delivery_p99_ms',
        title: 'Broadcast delivery latency p99 (ms, lower is better)',
      },
    ],
  },
  {
    id: 'size',
    title: 'Echo throughput against message size (binary, 8 connections, 2 in flight each)',
    xLabel: 'message size',
    unit: 'messages',
    points: {
      full: [64, 1024, 16384, 65536, 262144, 1 << 20, 4 << 20],
      quick: [64, 16384, 1 << 20, 4 << 20],
    },
    pointTitle: (x) => `Echo ${sizeLabel(x)} binary, 8 connections, 2 in flight each`,
    label: (x) => sizeLabel(x).replace(' ', ''),
    scripts: ECHO,
    fds: () => 8,
    load: { tool: 'wsload', mode: 'echo', args: (x) => ['-c', '8', '-p', '2', '-s', String(x), '--binary'] },
    metrics: [{ key: 'mb_per_s', label: 'MB/s (one direction)', better: higher }],
    info: [{ key: 'msgs_per_s', label: 'messages/s' }, serverCpu, cpu],
    charts: [
      {
        file: 'curve-echo-size.svg',
        metric: 'mb_per_s',
        title: 'Echo throughput (MB/s, one direction) against message size',
        logY: true,
      },
    ],
  },
];

/** Every curve point as a scenario (id "<curve>-<label>"), with the profile's curve windows. */
export function curveScenarios(profile) {
  return CURVES.flatMap((c) =>
    c.points[profile.curvePoints].map((x) => ({
      id: `${c.id}-${c.label(x)}`,
      curve: c.id,
      curveTitle: c.title,
      x,
      pointLabel: `${c.label(x)} ${c.unit}`,
      title: c.pointTitle(x),
      scripts: c.scripts,
      load: { ...c.load, args: () => c.load.args(x) },
      conns: c.load.mode === 'echo' ? undefined : x,
      fds: c.fds(x),
      metrics: c.metrics,
      info: c.info,
      goals: [],
      warmup: profile.curveWarmup,
      duration: profile.curveDuration,
    })),
  );
}

/** The scenario's title with the profile's connection count filled in. */
export function scenarioTitle(scenario, profile) {
  return scenario.title.replace('{conns}', profile.bigConns.toLocaleString('en-US'));
}

/**
 * How long after the hold line a hold measurement may read the RSS for the last time: the
 * settle delay, or the idle reading's longest wait where the scenario takes that reading too
 * (not in its variant).
 */
export function lastRssReadMs(scenario, profile, variant = null) {
  return scenario.idleRead && variant === null && profile.idleMs > profile.settleMs
    ? profile.idleMs
    : profile.settleMs;
}

/**
 * The wsload arguments of one measurement (the URL's port is filled in by the runner);
 * `variant`: the scenario's variant when that is what runs.
 */
export function wsloadArgs(scenario, server, profile, port, variant = null) {
  const { mode } = scenario.load;
  const args = [mode, '--url', `ws://127.0.0.1:${port}/`, ...scenario.load.args(profile)];
  if (mode === 'hold') {
    // Hold long enough to read the RSS after the last delay, then close.
    args.push('-d', String(lastRssReadMs(scenario, profile, variant) / 1000 + 0.5));
  } else {
    // -v: the once-a-second progress lines on stderr, which time the server CPU readings.
    args.push(
      '-w',
      String(scenario.warmup ?? profile.warmup),
      '-d',
      String(scenario.duration ?? profile.duration),
      '-v',
    );
  }
  const conns = scenario.conns ?? 0;
  // One source address reaches ~28,000 ephemeral ports towards the server's port: spread
  // large counts over 127.0.0.1, .2, ... and give the ramp time (about 5,000 opens/s here).
  if (conns > SOURCE_ADDR_CONNS) args.push('--source-addrs', String(Math.ceil(conns / SOURCE_ADDR_CONNS)));
  if (conns > 40000) args.push('--ramp-timeout', String(Math.ceil(conns / 2000)));
  // The raw echo server reflects the client's frames, masks included.
  if (server === 'raw' && mode !== 'broadcast') args.push('--allow-masked');
  return args;
}

/** Connections per loopback source address (below the default ephemeral range of ~28,000). */
export const SOURCE_ADDR_CONNS = 20000;

/** The scenario's derived cost metric (server CPU µs per unit) from one measurement's metrics. */
export function costMetrics(scenario, metrics) {
  const c = scenario.cost;
  const pct = metrics.server_cpu_pct;
  const rate = c ? metrics[c.per] : undefined;
  if (!c || !(pct >= 0) || !(rate > 0)) return {};
  return { [c.key]: ((pct / 100) * 1e6) / rate };
}

/** The deflate-echo client's arguments (see bench/clients/deflate-echo.mjs). */
export function deflateArgs(scenario, profile, port, serverPid) {
  return [
    '--url',
    `ws://127.0.0.1:${port}/`,
    ...scenario.load.args(profile),
    '--warmup',
    String(profile.warmup),
    '--duration',
    String(profile.duration),
    '--pid',
    String(serverPid),
  ];
}

/** Servers in the order they run in round `round` (rotated each round so drift hits all alike). */
export function serverOrder(servers, round) {
  if (servers.length === 0) return [];
  const k = round % servers.length;
  return [...servers.slice(k), ...servers.slice(0, k)];
}
