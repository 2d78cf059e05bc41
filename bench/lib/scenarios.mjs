// The seven scenarios of issue 5, their servers, their metrics and their goals. Pure data plus
// functions that build command lines; the runner (bench/run.mjs) executes them.

export const SERVERS = {
  riptide: { label: 'riptide' },
  ws: { label: 'ws (+bufferutil, utf-8-validate)' },
  raw: { label: 'raw node:net' },
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
  // `variant` (the 1 MiB young generation of scenarios 5 and 7); not in quick mode.
  full: {
    rounds: 5,
    warmup: 2,
    duration: 5,
    bigConns: 10000,
    settleMs: 1000,
    deflateConns: 100,
    timeWaitBelow: 2000,
    timeWaitMaxMs: 70_000,
    variants: true,
  },
  quick: {
    rounds: 2,
    warmup: 0.5,
    duration: 1,
    bigConns: 2000,
    settleMs: 300,
    deflateConns: 50,
    timeWaitBelow: 2000,
    timeWaitMaxMs: 0,
    variants: false,
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

/**
 * Each scenario: which server script each contender runs, how the load is generated, which
 * numbers are compared (the first metric is the headline) and the goals (riptide / other).
 */
export const SCENARIOS = [
  {
    id: 1,
    title: 'Echo 64 B text, 100 connections, 10 in flight each',
    scripts: { riptide: 'riptide-echo.mjs', ws: 'ws-echo.mjs', raw: 'raw-net.mjs' },
    load: { tool: 'wsload', mode: 'echo', args: () => ['-c', '100', '-p', '10', '-s', '64', '--text'] },
    metrics: [{ key: 'msgs_per_s', label: 'messages/s', better: higher }],
    cost: costOf('msgs_per_s', 'message'),
    info: echoInfo,
    goals: [{ metric: 'msgs_per_s', vs: 'ws', op: '>=', target: 3 }],
  },
  {
    id: 2,
    title: 'Echo 64 B text, 100 connections, 1 in flight each',
    scripts: { riptide: 'riptide-echo.mjs', ws: 'ws-echo.mjs', raw: 'raw-net.mjs' },
    load: { tool: 'wsload', mode: 'echo', args: () => ['-c', '100', '-p', '1', '-s', '64', '--text'] },
    metrics: [{ key: 'msgs_per_s', label: 'messages/s', better: higher }],
    cost: costOf('msgs_per_s', 'message'),
    info: echoInfo,
    goals: [
      { metric: 'msgs_per_s', vs: 'ws', op: '>=', target: 1.5 },
      { metric: 'msgs_per_s', vs: 'raw', op: '>=', target: 0.8 },
    ],
  },
  {
    id: 3,
    title: 'Echo 1 MiB binary, 4 connections',
    scripts: { riptide: 'riptide-echo.mjs', ws: 'ws-echo.mjs', raw: 'raw-net.mjs' },
    load: { tool: 'wsload', mode: 'echo', args: () => ['-c', '4', '-p', '1', '-s', '1m', '--binary'] },
    metrics: [{ key: 'mb_per_s', label: 'MB/s (one direction)', better: higher }],
    cost: costOf('mb_per_s', 'MB'),
    info: echoInfo,
    goals: [
      { metric: 'mb_per_s', vs: 'ws', op: '>=', target: 1.4 },
      { metric: 'mb_per_s', vs: 'raw', op: '>=', target: 0.85 },
    ],
  },
  {
    id: 4,
    title: 'Broadcast 64 B to {conns} receivers (riptide: pub/sub; ws: loop over clients)',
    scripts: { riptide: 'riptide-broadcast.mjs', ws: 'ws-broadcast.mjs', raw: 'raw-broadcast.mjs' },
    load: {
      tool: 'wsload',
      mode: 'broadcast',
      args: (p) => ['-c', String(p.bigConns), '-s', '64', '--text', '-i', '0'],
    },
    metrics: [{ key: 'deliveries_per_s', label: 'deliveries/s', better: higher }],
    cost: costOf('deliveries_per_s', 'delivery'),
    info: [{ key: 'fanout_p50_ms', label: 'fan-out p50 (ms)' }, serverCpu, cpu],
    goals: [{ metric: 'deliveries_per_s', vs: 'ws', op: '>=', target: 3 }],
  },
  {
    id: 5,
    title: '{conns} idle connections: server RSS per connection',
    scripts: { riptide: 'riptide-echo.mjs', ws: 'ws-echo.mjs', raw: 'raw-net.mjs' },
    load: { tool: 'wsload', mode: 'hold', args: (p) => ['-c', String(p.bigConns)] },
    metrics: [{ key: 'rss_per_conn_kib', label: 'KiB per connection', better: lower }],
    info: [
      { key: 'rss_before_mib', label: 'RSS before (MiB)' },
      { key: 'rss_with_mib', label: 'RSS with the connections (MiB)' },
      { key: 'rss_per_conn_kib_immediate', label: 'KiB per connection, read without settle delay' },
      // Without the node binary's code pages that the first connections page in (up to 4 MiB
      // for the raw server, which touched less of the binary before the ramp): the heaps only.
      { key: 'rss_anon_per_conn_kib', label: 'KiB per connection, anonymous memory only (RssAnon)' },
      young1Rss,
    ],
    variant: { nodeFlags: SMALL_YOUNG_GEN, metrics: { rss_per_conn_kib: 'rss_per_conn_kib_young1' } },
    goals: [
      { metric: 'rss_per_conn_kib', vs: 'ws', op: '<=', target: 0.8 },
      { metric: 'rss_per_conn_kib', vs: 'raw', op: '<=', target: 1.1 },
    ],
  },
  {
    id: 6,
    title: 'Handshakes per second (16 concurrent connect/upgrade/close loops)',
    scripts: { riptide: 'riptide-echo.mjs', ws: 'ws-echo.mjs', raw: 'raw-net.mjs' },
    load: { tool: 'wsload', mode: 'connect', args: () => ['-c', '16'] },
    metrics: [{ key: 'handshakes_per_s', label: 'handshakes/s', better: higher }],
    cost: costOf('handshakes_per_s', 'handshake'),
    info: [
      { key: 'hs_p50_ms', label: 'handshake p50 (ms)' },
      { key: 'time_wait_at_start', label: 'sockets in TIME_WAIT at the start' },
      serverCpu,
      cpu,
    ],
    goals: [{ metric: 'handshakes_per_s', vs: 'ws', op: '>=', target: 1.5 }],
  },
  {
    id: 7,
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
    goals: [
      { metric: 'msgs_per_s', vs: 'ws', op: '>=', target: 1.5 },
      { metric: 'rss_per_conn_kib', vs: 'ws', op: '<=', target: 0.5 },
    ],
  },
];

/** The scenario's title with the profile's connection count filled in. */
export function scenarioTitle(scenario, profile) {
  return scenario.title.replace('{conns}', profile.bigConns.toLocaleString('en-US'));
}

/** The wsload arguments of one measurement (the URL's port is filled in by the runner). */
export function wsloadArgs(scenario, server, profile, port) {
  const { mode } = scenario.load;
  const args = [mode, '--url', `ws://127.0.0.1:${port}/`, ...scenario.load.args(profile)];
  if (mode === 'hold') {
    // Hold long enough to read the RSS after the settle delay, then close.
    args.push('-d', String(profile.settleMs / 1000 + 0.5));
  } else {
    // -v: the once-a-second progress lines on stderr, which time the server CPU readings.
    args.push('-w', String(profile.warmup), '-d', String(profile.duration), '-v');
  }
  // The raw echo server reflects the client's frames, masks included.
  if (server === 'raw' && mode !== 'broadcast') args.push('--allow-masked');
  return args;
}

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
