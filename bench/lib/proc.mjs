// Reading the machine and processes from /proc. The parsers are pure (unit-tested); the readers
// are thin wrappers around readFileSync.
import { readFileSync } from 'node:fs';

/** VmRSS from the text of /proc/PID/status, in bytes; null when absent (e.g. a zombie). */
export function parseVmRss(statusText) {
  const m = /^VmRSS:\s*(\d+)\s*kB\s*$/m.exec(statusText);
  return m ? Number(m[1]) * 1024 : null;
}

/** The server's resident set size in bytes, or null if the process is gone. */
export function readRss(pid) {
  try {
    return parseVmRss(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return null;
  }
}

/** Memory per connection in KiB: (RSS with the connections − RSS before) / connections. */
export function rssPerConnKiB(rssBefore, rssWith, conns) {
  if (rssBefore == null || rssWith == null || !(conns > 0)) return null;
  return (rssWith - rssBefore) / conns / 1024;
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
