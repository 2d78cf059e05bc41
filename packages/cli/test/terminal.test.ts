/**
 * The Terminal's prompt bookkeeping (terminal.ts) with a stream that says it is a terminal; the
 * prompt and line editing under a real pseudo-terminal are in pty.test.ts.
 */
import { closeSync, fstatSync, openSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isControllingTerminal, Terminal } from '../src/terminal.js';

function fakeTty(): PassThrough & { isTTY: boolean; setRawMode: (on: boolean) => void } {
  return Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => {} });
}

function collect(stream: PassThrough): () => string {
  let text = '';
  stream.on('data', (d: Buffer) => {
    text += d.toString();
  });
  return () => text;
}

describe('Terminal', () => {
  it('prints plainly after the end of input: no prompt is drawn on a closed readline', async () => {
    const stdin = fakeTty();
    const stdout = fakeTty();
    const stderr = new PassThrough();
    const term = new Terminal({ stdin, stdout, stderr });
    const ended = new Promise<boolean>((resolve) => term.onEnd(resolve));
    const screen = collect(stdout);
    term.startPrompt();
    expect(screen()).toContain('> ');
    // Ctrl-D at an empty prompt, as the terminal delivers it in raw mode.
    stdin.write('\x04');
    // Ctrl-D is no hang-up (pty.test.ts has the hang-up, which only a real terminal gives)
    expect(await ended).toBe(false);
    // What `listen` prints as Ctrl-D closes its clients: Node 24 threw ERR_USE_AFTER_CLOSE here.
    const before = screen().length;
    expect(() => term.out('[1] closed 1001 server shutting down')).not.toThrow();
    expect(screen().slice(before)).toBe('[1] closed 1001 server shutting down\n');
    term.close();
  });

  it('redraws the prompt after a line printed while it is shown', () => {
    const stdin = fakeTty();
    const stdout = fakeTty();
    const term = new Terminal({ stdin, stdout, stderr: new PassThrough() });
    const screen = collect(stdout);
    term.startPrompt();
    const before = screen().length;
    term.out('hello');
    const after = screen().slice(before);
    const line = after.indexOf('hello\n');
    expect(line).toBeGreaterThanOrEqual(0);
    expect(after.indexOf('> ', line)).toBeGreaterThan(line);
    term.close();
  });

  it('erases every row of a typed line that wraps before printing, then redraws it', () => {
    // Regression: a message arriving while a line longer than the terminal was typed cleared
    // only the cursor's row; the rows above stayed on screen, above the message.
    const stdin = fakeTty();
    const stdout = Object.assign(fakeTty(), { columns: 30 });
    const term = new Terminal({ stdin, stdout, stderr: new PassThrough() });
    const screen = collect(stdout);
    term.startPrompt();
    stdin.write('x'.repeat(70)); // '> ' and 70 characters: rows 0 to 2 of 30 columns
    const before = screen().length;
    term.out('hello');
    // up to the prompt's first row, to its start, erase to the end of the screen; then the line
    expect(screen().slice(before).startsWith('\x1b[2A\x1b[1G\x1b[0Jhello\n')).toBe(true);
    expect(screen().slice(before)).toContain(`> ${'x'.repeat(70)}`);
    term.close();
  });

  it('after a recalled line that wraps, redraws it below the printed line, not over it', () => {
    // Regression: readline's redraw moved up by the rows of its previous drawing (the recalled
    // line's), from below the printed line: the redrawn prompt covered the line just printed.
    const stdin = fakeTty();
    const stdout = Object.assign(fakeTty(), { columns: 30 });
    const term = new Terminal({ stdin, stdout, stderr: new PassThrough() });
    term.onLine(() => {});
    const screen = collect(stdout);
    term.startPrompt();
    stdin.write(`${'y'.repeat(70)}\r`);
    stdin.write('\x1b[A'); // up arrow: the line again, on rows 0 to 2
    const before = screen().length;
    term.out('hello');
    const after = screen().slice(before);
    expect(after.startsWith('\x1b[2A\x1b[1G\x1b[0Jhello\n')).toBe(true);
    // from the row under 'hello': no move up before the prompt is drawn again
    expect(after.slice('\x1b[2A\x1b[1G\x1b[0Jhello\n'.length)).toMatch(/^[^A]*> y{70}/);
    term.close();
  });
});

describe('isControllingTerminal', () => {
  // The true case (a pty that is the session's terminal, whose hang-up sends SIGHUP) and the false
  // case that matters (a pty in no session) are in pty.test.ts: they need a real terminal.
  it('is false for another device (/dev/null), a closed descriptor, and a stream that only says it is a terminal', () => {
    const fd = openSync('/dev/null', 'r');
    expect(isControllingTerminal(fd)).toBe(false);
    closeSync(fd);
    expect(isControllingTerminal(fd)).toBe(false);
    const term = new Terminal({ stdin: fakeTty(), stdout: fakeTty(), stderr: new PassThrough() });
    expect(term.hangUpSignals).toBe(false);
    term.close();
  });

  it("asks /dev/tty when /proc names no terminal (a sandbox's tty_nr 0) or there is no /proc", () => {
    const fd = openSync('/dev/null', 'r');
    try {
      const rdev = fstatSync(fd).rdev;
      const stat = (ttyNr: number) => `4242 (node (x) y) S 1 4242 4242 ${ttyNr} -1 4194304 0 0`;
      // /proc names a terminal: its number decides, /dev/tty is not asked.
      expect(isControllingTerminal(fd, { procStat: () => stat(rdev), devTtyOpens: () => false })).toBe(true);
      expect(isControllingTerminal(fd, { procStat: () => stat(rdev + 1), devTtyOpens: () => true })).toBe(
        false,
      );
      // /proc says 0, or is absent: whether /dev/tty opens.
      expect(isControllingTerminal(fd, { procStat: () => stat(0), devTtyOpens: () => true })).toBe(true);
      expect(isControllingTerminal(fd, { procStat: () => stat(0), devTtyOpens: () => false })).toBe(false);
      expect(isControllingTerminal(fd, { procStat: () => null, devTtyOpens: () => true })).toBe(true);
    } finally {
      closeSync(fd);
    }
  });
});
