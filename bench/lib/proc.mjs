// Reading the machine and processes from /proc. The parsers are pure (unit-tested); the readers
// are thin wrappers around readFileSync.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** VmRSS from the text of /proc/PID/status, in bytes; null when absent (e.g. a zombie). */
export function parseVmRss(statusText) {
  const m = /^VmRSS:\s*(\d+)\s*kB\s*$/m.exec(statusText);
  return m ? Number(m[1]) * 1024 : null;
}

/**
 * RssAnon from the text of /proc/PID/status, in bytes: the anonymous part of the RSS (heaps,
 * stacks), without the file-backed pages of the node binary and its libraries.
 */
export function parseRssAnon(statusText) {
  const m = /^RssAnon:\s*(\d+)\s*kB\s*$/m.exec(statusText);
  return m ? Number(m[1]) * 1024 : null;
}

/** The server's resident set size in bytes, or null if the process is gone. */
export function readRss(pid) {
  return readStatus(pid, parseVmRss);
}

/** The anonymous part of the server's resident set in bytes, or null if the process is gone. */
export function readRssAnon(pid) {
  return readStatus(pid, parseRssAnon);
}

function readStatus(pid, parse) {
  try {
    return parse(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return null;
  }
}

/** Memory per connection in KiB: (RSS with the connections − RSS before) / connections. */
export function rssPerConnKiB(rssBefore, rssWith, conns) {
  if (rssBefore == null || rssWith == null || !(conns > 0)) return null;
  return (rssWith - rssBefore) / conns / 1024;
}

/**
 * CPU time (user + system) in clock ticks from the text of /proc/PID/stat: fields 14 and 15,
 * counted after the command name's closing parenthesis (the name may contain spaces).
 */
export function parseCpuTicks(statText) {
  const fields = statText.slice(statText.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so field N is fields[N - 3].
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? utime + stime : null;
}

let clockTicks;
function ticksPerSecond() {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** CPU seconds (user + system) a process has used so far, or null if it is gone. */
export function readCpuSeconds(pid) {
  if (!pid) return null;
  try {
    const ticks = parseCpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return ticks === null ? null : ticks / ticksPerSecond();
  } catch {
    return null;
  }
}

/** The CPU model name and the number of processors from the text of /proc/cpuinfo. */
export function parseCpuInfo(cpuinfoText) {
  const models = [...cpuinfoText.matchAll(/^model name\s*:\s*(.+)$/gm)].map((m) => m[1].trim());
  const processors = [...cpuinfoText.matchAll(/^processor\s*:/gm)].length;
  return { model: models[0] ?? 'unknown', processors };
}

export function readCpuInfo() {
  try {
    return parseCpuInfo(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return { model: 'unknown', processors: 0 };
  }
}

export function readLoadAvg() {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  } catch {
    return null;
  }
}

/**
 * The soft and hard "Max open files" limits from the text of /proc/PID/limits (null when
 * unlimited or absent).
 */
export function parseFdLimit(limitsText) {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limitsText);
  const num = (v) => (v === undefined || v === 'unlimited' ? null : Number(v));
  return { soft: num(m?.[1]), hard: num(m?.[2]) };
}

/** This process's file descriptor limits (children inherit them). */
export function readFdLimit() {
  try {
    return parseFdLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return { soft: null, hard: null };
  }
}

/**
 * Scenario 5's idle reading: has the server given memory back and stopped moving? `samples`:
 * its RSS once a second since the settle reading `settled` (oldest first), `before`: its RSS
 * before the connections. True once the RSS has fallen by at least `dropShare` of what the
 * connections added and the last `quietS` seconds moved it by less than 1 % of that. V8's
 * memory reducer gives the ramp's young generation back once, 8 to about 108 s after the ramp
 * (bench/idle-rss-time.mjs and bench/ANALYSIS.md); a server that never gives back 10 % of
 * what its connections added is read at the runner's longest wait instead.
 */
export function idleSettled(samples, before, settled, { dropShare = 0.1, quietS = 5 } = {}) {
  const added = settled - before;
  if (!(added > 0) || samples.length < quietS + 1) return false;
  if (samples[samples.length - 1] > settled - dropShare * added) return false;
  const recent = samples.slice(-(quietS + 1));
  return Math.max(...recent) - Math.min(...recent) < 0.01 * added;
}
