/**
 * How the process ends, in process: write failures on stdout/stderr (EPIPE, EIO after a hang-up),
 * the stop signals, and the exit once the output is flushed. The same through the binary and a
 * real hang-up: servers.test.ts, connect.test.ts and pty.test.ts.
 */
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  exitWhenFlushed,
  isErrorClose,
  OUTPUT_GONE,
  OutputGuard,
  onStopSignals,
  signalStatus,
} from '../src/exit.js';

/** 'close', also after an 'error' (events.once would reject on the error). */
function closed(stream: Writable): Promise<void> {
  return new Promise((resolve) => stream.once('close', () => resolve()));
}

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`write ${code}`), { code });
}

/** A stdout whose writes wait until the test settles them, with an error or without. */
function heldStream(): { stream: Writable; settle: (err?: Error) => void } {
  const held: ((err?: Error | null) => void)[] = [];
  const stream = new Writable({
    write(_chunk, _encoding, callback) {
      held.push(callback);
    },
  });
  const settle = (err?: Error) => {
    for (const callback of held.splice(0)) callback(err ?? null);
  };
  return { stream, settle };
}

/** A stdout whose every write fails with `code`, as a terminal that hung up fails with EIO. */
function failingStream(code: string): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback(errno(code));
    },
  });
}

describe('signalStatus', () => {
  it('is 128 + the signal number, as a shell reports a command that signal ended', () => {
    expect([signalStatus('SIGHUP'), signalStatus('SIGINT'), signalStatus('SIGTERM')]).toEqual([
      129, 130, 143,
    ]);
    expect(OUTPUT_GONE).toBe(128 + 13);
  });
});

describe('OutputGuard: a write to stdout or stderr that fails', () => {
  it('EPIPE (the reader of the pipe went away) exits 141', async () => {
    const exits: number[] = [];
    const guard = new OutputGuard((code) => exits.push(code));
    const stream = failingStream('EPIPE');
    guard.guard([stream]);
    stream.write('line\n');
    await closed(stream);
    expect(exits).toEqual([141]);
  });

  it('EIO (the terminal hung up) neither exits nor throws, and detaches from the terminal once', async () => {
    const exits: number[] = [];
    let detached = 0;
    const guard = new OutputGuard(
      (code) => exits.push(code),
      () => detached++,
    );
    const stdout = failingStream('EIO');
    const stderr = failingStream('EIO');
    guard.guard([stdout, stderr]);
    stdout.write('[1] closed 1001 server shutting down\n');
    stderr.write('status\n');
    await Promise.all([closed(stdout), closed(stderr)]);
    expect(exits).toEqual([]);
    expect(detached).toBe(1);
  });

  it('after a hang-up, EPIPE is output lost too (a pipe to a process the hang-up ended)', async () => {
    const exits: number[] = [];
    const guard = new OutputGuard((code) => exits.push(code));
    guard.hangUp();
    const stream = failingStream('EPIPE');
    guard.guard([stream]);
    stream.write('line\n');
    await closed(stream);
    expect(exits).toEqual([]);
  });

  it('any other error is thrown (an internal error, not a quiet exit)', () => {
    const guard = new OutputGuard(() => {});
    expect(() => guard.onError(errno('ENOSPC'))).toThrow('write ENOSPC');
  });
});

describe('onStopSignals', () => {
  it('calls stop with the signal; SIGHUP first marks the terminal gone', () => {
    const stops: string[] = [];
    const exits: number[] = [];
    let detached = 0;
    const guard = new OutputGuard(
      (code) => exits.push(code),
      () => detached++,
    );
    const off = onStopSignals((signal) => stops.push(signal), guard);
    try {
      process.emit('SIGTERM', 'SIGTERM');
      expect([stops, detached]).toEqual([['SIGTERM'], 0]);
      process.emit('SIGHUP', 'SIGHUP');
      expect([stops, detached]).toEqual([['SIGTERM', 'SIGHUP'], 1]);
      guard.onError(errno('EPIPE'));
      expect(exits).toEqual([]);
    } finally {
      off();
    }
    process.emit('SIGTERM', 'SIGTERM');
    expect(stops).toEqual(['SIGTERM', 'SIGHUP']);
  });
});

describe('exitWhenFlushed', () => {
  it('exits at once when nothing waits', () => {
    const exits: number[] = [];
    exitWhenFlushed([new Writable({ write: (_c, _e, cb) => cb() })], 0, (code) => exits.push(code));
    expect(exits).toEqual([0]);
  });

  it('waits for the output to drain', async () => {
    const exits: number[] = [];
    const { stream, settle } = heldStream();
    stream.write('x'.repeat(64 * 1024));
    exitWhenFlushed([stream], 0, (code) => exits.push(code));
    expect(exits).toEqual([]);
    const drained = once(stream, 'drain');
    settle();
    await drained;
    expect(exits).toEqual([0]);
  });

  it('exits with its status when waiting output fails (a hung-up terminal never drains)', async () => {
    // Regression: after a hang-up a server's last log lines failed with EIO, no 'drain' came,
    // and the process stayed up after its shutdown.
    const exits: number[] = [];
    const guard = new OutputGuard(() => {});
    const { stream, settle } = heldStream();
    guard.guard([stream]);
    stream.write('x'.repeat(64 * 1024));
    exitWhenFlushed([stream], 129, (code) => exits.push(code));
    const gone = closed(stream);
    settle(errno('EIO'));
    await gone;
    expect(exits).toEqual([129]);
  });
});

describe('isErrorClose: the close codes that make connect exit 3', () => {
  it('is true for the registered codes that report a failure, false for a normal end and the application codes', () => {
    const failures = [];
    for (let code = 1000; code <= 4999; code++) if (isErrorClose(code)) failures.push(code);
    expect(failures).toEqual([1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014]);
  });
});
