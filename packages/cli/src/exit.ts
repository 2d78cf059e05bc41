/**
 * How the process ends: the signals that stop a command, output that cannot be written, and the
 * exit once the output is flushed.
 *
 * - SIGTERM and SIGHUP (a hang-up: the terminal closed, an ssh connection dropped) stop a command
 *   cleanly, as Ctrl-C does: the servers close their clients with 1001, `connect` closes its
 *   connection with 1001. Without a listener Node dies of them with no close frame sent (1006).
 * - Node ignores SIGPIPE, so writing to a pipe whose reader is gone is an 'error' event (EPIPE),
 *   and without a listener a stack trace: end as SIGPIPE ends other Unix tools, quietly, 141.
 * - After a hang-up the terminal is gone: writes to it fail with EIO (and a pipe to a process the
 *   hang-up also ended with EPIPE). That output has nowhere to go; it is dropped, so that the
 *   shutdown the hang-up started can finish and exit with its own status.
 * - At exit Node restores the terminal modes of the stdio descriptors that were terminals when it
 *   started, and aborts (a native assertion, status 134) when that fails, as it does with EIO on a
 *   terminal that hung up (Node 20 to 24). So after a hang-up those descriptors are pointed at
 *   /dev/null, as a daemon detaches: Node skips a descriptor that now names another file, and
 *   what is still written goes nowhere without an error.
 */
import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import type { Writable } from 'node:stream';

/** The signals that stop a command cleanly besides Ctrl-C (SIGINT, which Terminal delivers). */
export type StopSignal = 'SIGTERM' | 'SIGHUP';

/** 128 + the signal's number: the status a shell reports for a command that this signal ended. */
export function signalStatus(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

/** The exit status of a command whose output went away (128 + SIGPIPE). */
export const OUTPUT_GONE = 141;

/**
 * The exit status of `connect` when the server's close code says that something went wrong: 3,
 * beside 1 (the connection failed or was lost) and 2 (usage). It used to exit 0 whatever the code,
 * as wscat does, so a script could not tell a server's 1011 from a normal end.
 */
export const CLOSED_WITH_ERROR = 3;

/**
 * The close codes (RFC 6455 7.4.1, and IANA's registry for 1012 to 1014) by which a peer reports a
 * failure: a protocol error (1002), data it cannot take (1003), invalid UTF-8 (1007), a policy
 * violation (1008), a message too big (1009), an extension it needed (1010), an internal error
 * (1011), a restart (1012), an overload (1013), a bad gateway (1014). Not failures: 1000 and 1001
 * (a normal end, a peer going away), 1005 (a close frame without a code) and the application's
 * own 3000 to 4999, whose meaning only the application knows. 1006 (no close frame) is not a code
 * a peer sends: `connect` reports it as a lost connection (exit 1).
 */
const ERROR_CLOSE_CODES: ReadonlySet<number> = new Set([
  1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
]);

/** Whether a close code received from the peer reports a failure (ERROR_CLOSE_CODES). */
export function isErrorClose(code: number): boolean {
  return ERROR_CLOSE_CODES.has(code);
}

/** What a failed write to stdout or stderr does; one per process (`output` below). */
export class OutputGuard {
  private hungUp = false;
  private readonly exit: (code: number) => void;
  private readonly detach: () => void;

  /** `detach` runs once, on the first sign that the terminal is gone (detachFromTerminal). */
  constructor(exit: (code: number) => void, detach: () => void = () => {}) {
    this.exit = exit;
    this.detach = detach;
  }

  /**
   * The terminal hung up (SIGHUP, or EIO reading or writing it): from now on a failed write is
   * output lost, not a reason to exit.
   */
  hangUp(): void {
    if (this.hungUp) return;
    this.hungUp = true;
    this.detach();
  }

  /** The 'error' listener of stdout and stderr. */
  readonly onError = (err: NodeJS.ErrnoException): void => {
    // EIO: the terminal is gone (after a hang-up, or a revoked tty whose SIGHUP is on its way).
    if (err.code === 'EIO') {
      this.hangUp();
      return;
    }
    if (this.hungUp && err.code === 'EPIPE') return;
    if (err.code === 'EPIPE') {
      this.exit(OUTPUT_GONE);
      return;
    }
    throw err;
  };

  /** Listen for write failures on these streams. */
  guard(streams: readonly Writable[]): void {
    for (const stream of streams) stream.on('error', this.onError);
  }
}

/** The process's own guard: exits through process.exit. */
export const output = new OutputGuard((code) => process.exit(code), detachFromTerminal);

/**
 * Point each stdio descriptor that was a terminal at /dev/null (see the top of this file). The
 * lowest free descriptor is the one just closed, so open() gets the same number back; were it
 * another, it is closed again rather than left aside.
 */
export function detachFromTerminal(): void {
  const stdio: [number, { isTTY?: boolean }, 'r' | 'w'][] = [
    [0, process.stdin, 'r'],
    [1, process.stdout, 'w'],
    [2, process.stderr, 'w'],
  ];
  for (const [fd, stream, mode] of stdio) {
    if (stream.isTTY !== true) continue;
    try {
      closeSync(fd);
      const reopened = openSync('/dev/null', mode);
      if (reopened !== fd) closeSync(reopened);
    } catch {
      // Left as it is: the worst case is Node's abort at exit, as without this.
    }
  }
}

/**
 * Call `stop` on SIGTERM and on SIGHUP (which first tells `output` that the terminal is gone and
 * detaches from it).
 * Returns a function that removes both listeners.
 */
export function onStopSignals(stop: (signal: StopSignal) => void, guard: OutputGuard = output): () => void {
  const onTerm = () => stop('SIGTERM');
  const onHup = () => {
    guard.hangUp();
    stop('SIGHUP');
  };
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onHup);
  return () => {
    process.off('SIGTERM', onTerm);
    process.off('SIGHUP', onHup);
  };
}

/**
 * process.exit() drops what a pipe has not taken yet (Node writes to a full pipe later, from its
 * event loop): `riptide connect URL < big | slow-reader` lost all but the first 64 KiB. Call
 * `exit` once every stream has handed everything to its pipe, or has failed (a reader gone:
 * EPIPE, a terminal gone: EIO), since a failed stream never drains.
 */
export function exitWhenFlushed(
  streams: readonly Writable[],
  code: number,
  exit: (code: number) => void,
): void {
  const pending = streams.filter((s) => s.writableLength > 0 && !s.destroyed);
  let left = pending.length;
  if (left === 0) {
    exit(code);
    return;
  }
  for (const stream of pending) {
    let counted = false;
    const settle = () => {
      if (counted) return;
      counted = true;
      if (--left === 0) exit(code);
    };
    stream.once('drain', settle);
    stream.once('close', settle);
    stream.once('error', settle);
  }
}
