/**
 * Line input and output for the commands, in two modes:
 *
 * - interactive (stdin is a terminal): a readline prompt; output printed while the user is typing
 *   first clears the prompt line, then redraws it with what was typed so far;
 * - piped (stdin is a file or a pipe): plain line reading, no prompt, no echo.
 *
 * Ctrl-C reaches us as readline's 'SIGINT' (terminal in raw mode) or as the process signal
 * (piped); both call the one interrupt handler.
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import * as readline from 'node:readline';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { output } from './exit.js';

export interface Io {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
}

/** Where isControllingTerminal looks (replaced in tests). */
export interface TerminalProbes {
  /** /proc/self/stat's text, or null without /proc */
  procStat(): string | null;
  /** whether /dev/tty opens (the process has a controlling terminal) */
  devTtyOpens(): boolean;
}

const SYSTEM_PROBES: TerminalProbes = {
  procStat() {
    try {
      return readFileSync('/proc/self/stat', 'utf8');
    } catch {
      return null; // No /proc (macOS, the BSDs).
    }
  },
  devTtyOpens() {
    try {
      closeSync(openSync('/dev/tty', 'r'));
      return true;
    } catch {
      return false; // ENXIO: no controlling terminal
    }
  },
};

/**
 * Whether `fd` is this process's controlling terminal: only then does its hang-up send a SIGHUP,
 * to the session leader (us, or a shell that passes it on to its jobs). Asked before a hang-up:
 * after it, the process has no controlling terminal. On Linux, the terminal's device number is
 * field 7 of /proc/self/stat, compared with `fd`'s (an fd opened as /dev/tty would stat as
 * /dev/tty itself, not as the terminal it stands for). Without /proc, or when it says 0 (none:
 * some sandboxed kernels say 0 for every process), whether there is a controlling terminal at all
 * (/dev/tty opens; not on Windows): `fd` is taken to be it. On Linux a real 0 agrees: /dev/tty
 * then fails with ENXIO.
 */
export function isControllingTerminal(fd: number, probes: TerminalProbes = SYSTEM_PROBES): boolean {
  let rdev: number;
  try {
    rdev = fstatSync(fd).rdev;
  } catch {
    return false;
  }
  const stat = probes.procStat();
  if (stat !== null) {
    // pid (comm) state ppid pgrp session tty_nr ...: comm may hold spaces and parentheses.
    const ttyNr = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[4]);
    if (ttyNr !== 0) return ttyNr === rdev;
  }
  return probes.devTtyOpens();
}

export class Terminal {
  readonly interactive: boolean;
  /**
   * A hang-up of the input terminal (its EIO) is followed by a SIGHUP: it is this process's
   * controlling terminal. When it is not (a pty handed to a process in another session), no
   * SIGHUP follows, and a later one is a signal of its own (see the commands' `hangUpSeen`).
   */
  readonly hangUpSignals: boolean;
  private readonly rl: readline.Interface;
  private readonly io: Io;
  /** where the prompt and the typed text are drawn */
  private readonly promptStream: Writable & { isTTY?: boolean };
  private prompting = false;
  private inputPaused = false;
  /** the input ended because the terminal hung up (EIO), not by Ctrl-D or the end of a file */
  private hungUp = false;
  private interruptHandler: (() => void) | null = null;
  private readonly onSignal = () => this.interruptHandler?.();
  /** Piped input read as bytes (onChunk), not as lines of text: `connect --binary`. */
  private readonly rawInput: boolean;

  /** `rawInput`: piped input comes to onChunk as it is read, never decoded (not in a terminal). */
  constructor(io: Io, prompt = '> ', options: { rawInput?: boolean } = {}) {
    this.io = io;
    this.interactive = io.stdin.isTTY === true;
    this.rawInput = options.rawInput === true && !this.interactive;
    const fd = (io.stdin as { fd?: unknown }).fd;
    this.hangUpSignals = this.interactive && typeof fd === 'number' && isControllingTerminal(fd);
    this.promptStream = io.stdout.isTTY ? io.stdout : io.stderr;
    if (this.rawInput) {
      // readline stays for what it does besides reading (its 'close' is the end of the input),
      // over an input of its own that gives it nothing: stdin's bytes go to onChunk.
      this.rl = readline.createInterface({ input: new PassThrough(), terminal: false });
      const end = () => this.rl.close();
      io.stdin.once('end', end);
      io.stdin.once('error', end);
    } else {
      this.rl = this.interactive
        ? readline.createInterface({ input: io.stdin, output: this.promptStream, prompt, terminal: true })
        : readline.createInterface({ input: io.stdin, terminal: false, crlfDelay: Number.POSITIVE_INFINITY });
    }
    this.rl.on('SIGINT', this.onSignal);
    // After a hang-up, reading the terminal fails (EIO): that is the end of the input, not a
    // crash. Closing resets the raw mode, which fails too and comes back here: close once.
    let failed = false;
    this.rl.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EIO') {
        this.hungUp = true;
        output.hangUp();
      }
      if (failed) return;
      failed = true;
      this.rl.close();
    });
    // A closed readline cannot prompt (Node 24 throws ERR_USE_AFTER_CLOSE, older ones draw a
    // stray prompt): output after the end of input, such as the closes that Ctrl-D causes in
    // `listen`, is printed plainly. Registered first, so it runs before any onEnd callback.
    // The prompt on screen is erased first (Ctrl-D): it was left there, and what came next was
    // printed after it (`> closed 1000`, or the shell's prompt after `listen`'s `> `).
    this.rl.on('close', () => {
      if (this.prompting && !this.hungUp) this.clearPrompt();
      this.prompting = false;
    });
    // Ctrl-Z: readline stops the process (SIGTSTP); on `fg` (SIGCONT) it pauses its input and
    // leaves the resume to the application ('SIGCONT'). Without it the session came back deaf:
    // typed lines, Ctrl-C and Ctrl-D were never read again (only a signal could end it).
    this.rl.on('SIGCONT', () => {
      if (!this.inputPaused) this.rl.resume();
    });
    process.on('SIGINT', this.onSignal);
  }

  onLine(cb: (line: string) => void): void {
    this.rl.on('line', (line) => {
      cb(line);
      if (this.prompting) this.rl.prompt();
    });
  }

  /** Each chunk read from piped input, as bytes (with `rawInput` only). */
  onChunk(cb: (chunk: Buffer) => void): void {
    if (this.rawInput) this.io.stdin.on('data', (chunk: Buffer | string) => cb(Buffer.from(chunk)));
  }

  /**
   * End of input (Ctrl-D in a terminal, end of file or pipe otherwise). `hungUp`: the terminal
   * went away (reading it failed with EIO), which may come before the SIGHUP of that hang-up
   * (when `hangUpSignals`: else none comes).
   */
  onEnd(cb: (hungUp: boolean) => void): void {
    this.rl.on('close', () => cb(this.hungUp));
  }

  /**
   * Stop reading input until resumeInput(): lines already read from the current chunk still
   * come (readline splits a chunk at once), so what is held stays within one chunk.
   */
  pauseInput(): void {
    if (!this.inputPaused) (this.rawInput ? this.io.stdin : this.rl).pause();
    this.inputPaused = true;
  }

  resumeInput(): void {
    if (this.inputPaused) (this.rawInput ? this.io.stdin : this.rl).resume();
    this.inputPaused = false;
  }

  onInterrupt(cb: () => void): void {
    this.interruptHandler = cb;
  }

  /** Show the prompt from now on (interactive mode only). */
  startPrompt(): void {
    if (!this.interactive) return;
    this.prompting = true;
    this.rl.prompt();
  }

  /** Stop showing the prompt, and erase the one on screen. */
  stopPrompt(): void {
    if (!this.prompting) return;
    this.prompting = false;
    this.clearPrompt();
  }

  /**
   * Erase the prompt and the text typed after it, on every row they take: a line longer than the
   * terminal is wide wraps, and clearing only the cursor's row left the rows above on screen.
   */
  private clearPrompt(): void {
    readline.moveCursor(this.promptStream, 0, -this.rl.getCursorPos().rows);
    readline.cursorTo(this.promptStream, 0);
    readline.clearScreenDown(this.promptStream);
  }

  /**
   * Draw the prompt and the typed text again, from the cursor's row. readline's redraw first
   * moves up by the rows its last redraw left the cursor below the prompt's start (`prevRows`,
   * 2 after recalling a line that wraps twice): the printed line would be overwritten. We have
   * just put the cursor at the start of a fresh row, so there is nothing above to move to.
   * `prevRows` is readline's own field (Node 20 to 24 read it as `this.prevRows || 0`), not in
   * its types; where a Node has no such field, setting it changes nothing.
   */
  private redrawPromptHere(): void {
    (this.rl as readline.Interface & { prevRows?: number }).prevRows = 0;
    this.rl.prompt(true);
  }

  /** A line of data on stdout. */
  out(line: string): void {
    this.write(this.io.stdout, line);
  }

  /** A line of status (open, close, errors, pings) on stderr, so stdout stays data. */
  info(line: string): void {
    this.write(this.io.stderr, line);
  }

  private write(stream: Writable, line: string): void {
    if (this.prompting) {
      this.clearPrompt();
      stream.write(`${line}\n`);
      this.redrawPromptHere();
    } else {
      stream.write(`${line}\n`);
    }
  }

  close(): void {
    if (this.rawInput) this.io.stdin.pause();
    this.prompting = false;
    process.off('SIGINT', this.onSignal);
    this.rl.close();
  }
}
