/**
 * Run the built `riptide` command as a child process, drive its stdin, watch its output.
 * Every process started here is killed by killAll() (call it in afterEach).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../bin/riptide.js', import.meta.url));

const running = new Set<ChildProcess>();

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class Cli {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  /**
   * The child's stdio has closed: all its output has been read. Its 'exit' can come before the
   * last bytes it wrote are read (Node does not order the two), so the end of the output, not the
   * exit, is what `waitFor` gives up on.
   */
  private closed = false;
  private waiters: (() => void)[] = [];

  constructor(args: string[], command = process.execPath, argv0: string[] = [BIN]) {
    this.child = spawn(command, [...argv0, ...args], {
      stdio: 'pipe',
      env: { ...process.env, NO_COLOR: '1' },
    });
    running.add(this.child);
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      this.stdout += s;
      this.notify();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      this.stderr += s;
      this.notify();
    });
    this.child.stdin!.on('error', () => {}); // the command may exit before reading everything
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.closed = true;
        running.delete(this.child);
        this.notify();
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /**
   * Resolves with the first match of `re` in stdout (or stderr), checked on each chunk of output;
   * fails if the command's output ends first (it exited and everything it wrote has been read).
   * No clock: only the test's timeout bounds the wait.
   */
  async waitFor(re: RegExp, stream: 'stdout' | 'stderr' = 'stdout'): Promise<RegExpMatchArray> {
    for (;;) {
      const m = this[stream].match(re);
      if (m) return m;
      if (this.closed) {
        throw new Error(
          `exited before ${re} appeared on ${stream}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`,
        );
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /**
   * Resolves once `check` holds, checked on each chunk of output (as waitFor); fails if the
   * command's output ends first. `what` names the wait in that failure.
   */
  async waitUntil(check: () => boolean, what: string): Promise<void> {
    for (;;) {
      if (check()) return;
      if (this.closed) {
        throw new Error(`exited before ${what}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  write(text: string): void {
    this.child.stdin!.write(text);
  }

  end(text?: string | Buffer): void {
    this.child.stdin!.end(text);
  }

  signal(sig: NodeJS.Signals = 'SIGINT'): void {
    this.child.kill(sig);
  }
}

/**
 * For `connect` and `listen` closing against a peer in this process: --close-timeout (5 s, 2 s by
 * default) bounds how long they wait for the answer to their close, and a test process stalled
 * that long (CI: two cores, several test files at once) would see `closed 1006`, an exit at the
 * timer, or no close line. A bound no loaded machine reaches; the command still exits as soon as
 * the answer comes.
 */
export const WAIT_FOR_CLOSE = ['--close-timeout', '600'];

/**
 * For commands that pipe lines and expect replies: they close as soon as every line has had its
 * reply, and --wait (default 2 s) only bounds how long they wait for the rest. A bound no loaded
 * machine reaches keeps a slow reply from being cut off; the command still exits at once. The
 * close that follows waits for its answer as patiently (WAIT_FOR_CLOSE).
 */
export const PATIENT = ['--wait', '60', ...WAIT_FOR_CLOSE];

/** Run to completion with the given stdin. */
export function run(args: string[], input: string | Buffer = ''): Promise<Exit> {
  const cli = new Cli(args);
  cli.end(input);
  return cli.exited;
}

/** Start a server command (`echo`, `broadcast`, `listen`) on a free port; resolves its URL. */
export async function startServer(command: string, ...args: string[]): Promise<{ cli: Cli; url: string }> {
  const cli = new Cli([command, '--port', '0', ...args]);
  const [, url] = await cli.waitFor(/listening on (wss?:\/\/\S+)/);
  return { cli, url };
}

export function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

/** The usage error shape: one line of reason, then the usage line. */
export const USAGE = /^riptide [a-z]+: .+\nusage: riptide [a-z]+ /;

/**
 * A self-signed certificate for localhost and 127.0.0.1 in `dir` (cert.pem, key.pem), made with
 * the openssl command the docs give (an EC key: quick to make).
 */
export function selfSignedCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}
