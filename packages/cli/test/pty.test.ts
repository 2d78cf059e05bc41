/**
 * One interactive session under a pseudo-terminal: util-linux `script` runs the command with a
 * pty as its stdin/stdout, and relays what we write to its own stdin as typed keys.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { BIN, Cli, killAll, WAIT_FOR_CLOSE } from './helpers.js';
import { type Peer, until, wsPeer } from './peers.js';

let peer: Peer | null = null;
afterEach(async () => {
  killAll();
  await peer?.close();
  peer = null;
});

function underPty(args: string[]): Cli {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Cli(['-qfec', command, '/dev/null'], 'script', []);
}

/**
 * Python's pty module as the terminal, for what `script` cannot show: the command's exit status
 * after its terminal hangs up. A line on our stdin closes the pty's master side (the kernel then
 * hangs the terminal up: reads fail with EIO, the session leader gets SIGHUP); the status comes
 * back as `exit N` on stderr.
 */
const HANG_UP_DRIVER = `
import os, pty, select, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
while True:
    ready = select.select([fd, 0], [], [])[0]
    if 0 in ready:
        break
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    os.write(1, data)
os.close(fd)
sys.stderr.write('exit %d\\n' % os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
`;

function underHangUpPty(args: string[]): { cli: Cli; hangUp: () => Promise<number> } {
  const cli = new Cli(['-c', HANG_UP_DRIVER, process.execPath, BIN, ...args], 'python3', []);
  return {
    cli,
    hangUp: async () => {
      cli.write('hang up\n');
      return Number((await cli.waitFor(/exit (-?\d+)/, 'stderr'))[1]);
    },
  };
}

/**
 * A terminal that is not the command's controlling one: a pty as its stdin only, the command in a
 * session of its own (no controlling terminal), its output on our pipes. A line on our stdin
 * closes the pty's master side: reading the terminal fails with EIO, and no SIGHUP follows (the
 * kernel sends that to the terminal's session, which has no process). `pid N` first, and the
 * command's status as `exit N` on stderr (a signal's as -N).
 */
const NO_SIGHUP_DRIVER = `
import os, subprocess, sys
master, slave = os.openpty()
child = subprocess.Popen(sys.argv[1:], stdin=slave, start_new_session=True)
os.close(slave)
sys.stdout.write('pid %d\\n' % child.pid)
sys.stdout.flush()
sys.stdin.readline()
os.close(master)
sys.stderr.write('exit %d\\n' % child.wait())
`;

/**
 * A WebSocket server that never answers a close frame (the client's close timer would end the
 * wait), and counts the close frames it gets.
 */
async function silentPeer() {
  const http = createServer();
  const sockets = new Set<Socket>();
  const peer = { url: '', closeFrames: 0 };
  http.on('upgrade', (req, socket: Socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    const accept = createHash('sha1')
      .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    // The client sends nothing else: a chunk that starts with FIN + opcode 8 is its close frame.
    socket.on('data', (chunk: Buffer) => {
      if (chunk[0] === 0x88) peer.closeFrames++;
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  peer.url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      http.close(() => resolve());
    });
  return { peer, close };
}

/** A WebSocket client that never answers a close frame, and counts the close frames it gets. */
function silentClient(url: string): { closeFrames: number; socket: Socket } {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const client = { closeFrames: 0, socket };
  socket.on('error', () => {});
  socket.write(
    `GET / HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  // After the 101, the server sends nothing but its close. The two may come in one chunk: the
  // server prints `connected from` before its 101 leaves (it goes out with the first flush), and a
  // test process slow to read (CI, 2 cores) then got the close behind the 101 in one chunk, which
  // a check of each chunk's first byte never counted. So the bytes are read as a stream: the head
  // up to its blank line, then frames (unmasked, short: a close frame's length fits in 7 bits).
  let received = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    const headEnd = received.indexOf('\r\n\r\n');
    if (headEnd < 0) return;
    let closeFrames = 0;
    for (let at = headEnd + 4; at + 2 <= received.length; at += 2 + (received[at + 1]! & 0x7f)) {
      if (received[at] === 0x88) closeFrames++;
    }
    client.closeFrames = closeFrames;
  });
  return client;
}

describe('riptide connect in a terminal', () => {
  it('shows a prompt, sends a typed line, prints the echo, and closes on Ctrl-C', async () => {
    // the reply differs from the typed text, so the terminal's echo of our keys cannot pass for it
    peer = await wsPeer((ws) => ws.on('message', (data) => ws.send(`echo: ${data}`)));
    const cli = underPty(['connect', peer.url, ...WAIT_FOR_CLOSE]);
    await cli.waitFor(/connected to ws:\/\/127\.0\.0\.1:\d+\/[\s\S]*> /);
    cli.write('hello pty\r');
    await cli.waitFor(/echo: hello pty/);
    await until(() => peer!.requests.length === 1);
    cli.write('/ping\r');
    cli.write('/binary 6869\r');
    await cli.waitFor(/echo: hi/);
    cli.write('\x03'); // Ctrl-C, as the terminal delivers it in raw mode
    await cli.waitFor(/closed 1000/);
    const res = await cli.exited;
    expect(res.code).toBe(0);
    await until(() => peer!.closes.length === 1);
    expect(peer!.closes[0]).toEqual([1000, '']);
  });

  it('/ping and /close with too much data print the error and keep the session', async () => {
    // Regression: '/ping' with more than 125 bytes threw out of the line handler: a stack trace
    // and the process gone (RFC 6455 5.5: control frames carry at most 125 bytes).
    peer = await wsPeer((ws) => ws.on('message', (data) => ws.send(`echo: ${data}`)));
    const cli = underPty(['connect', peer.url, ...WAIT_FOR_CLOSE]);
    await cli.waitFor(/> /);
    cli.write(`/ping ${'p'.repeat(126)}\r`);
    await cli.waitFor(/error: .*125 bytes/);
    cli.write(`/close 1000 ${'r'.repeat(124)}\r`);
    await cli.waitFor(/error: .*123 bytes/);
    cli.write('still here\r');
    await cli.waitFor(/echo: still here/);
    cli.write('/close\r');
    await cli.waitFor(/closed 1000/);
    expect((await cli.exited).code).toBe(0);
  });

  it('Ctrl-D closes with 1000, and erases the prompt before the close line', async () => {
    // Regression: the prompt was left on screen with the close line after it (`> closed 1000`).
    peer = await wsPeer();
    const cli = underPty(['connect', peer.url, ...WAIT_FOR_CLOSE]);
    await cli.waitFor(/> /);
    cli.write('\x04');
    expect((await cli.exited).code).toBe(0);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal's escape sequences are the point
    expect(cli.stdout).toMatch(/> (\x1b\[\d+G)?\x1b\[1G\x1b\[0Jclosed 1000\r\n$/);
    expect(peer.closes).toEqual([[1000, '']]);
  });

  it('/close sends the given code and reason', async () => {
    peer = await wsPeer();
    const cli = underPty(['connect', peer.url, ...WAIT_FOR_CLOSE]);
    await cli.waitFor(/> /);
    cli.write('/close 4321 all done\r');
    await cli.waitFor(/closed 4321 all done/);
    expect((await cli.exited).code).toBe(0);
    expect(peer.closes[0]).toEqual([4321, 'all done']);
  });
});

/**
 * An interactive shell with job control under a pty: what a user types (the command, Ctrl-Z,
 * `fg`) is written to it. Its prompt is `$ `.
 */
function underShell(): Cli {
  return new Cli(['-qfec', "PS1='$ ' bash --norc --noprofile -i", '/dev/null'], 'script', []);
}

function commandLine(args: string[]): string {
  return [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
}

describe('Ctrl-Z and fg', () => {
  // Regression: on `fg` readline paused its input and waited for the command to resume it, so
  // the session came back deaf: typed lines, Ctrl-C and Ctrl-D were no longer read.
  it('connect: after fg, typed lines are sent again and Ctrl-C closes', async () => {
    peer = await wsPeer((ws) => ws.on('message', (data) => ws.send(`echo: ${data}`)));
    const shell = underShell();
    shell.write(`${commandLine(['connect', peer.url, ...WAIT_FOR_CLOSE])}\r`);
    await shell.waitFor(/connected to [\s\S]*> /);
    shell.write('hel\x1a'); // Ctrl-Z with a line half typed
    await shell.waitFor(/Stopped/);
    shell.write('fg\r');
    await shell.waitFor(/> hel/);
    shell.write('lo\r');
    await shell.waitFor(/echo: hello/);
    shell.write('\x03');
    await shell.waitFor(/closed 1000[\s\S]*\$ /);
    shell.write('echo "status $?"; exit\r');
    await shell.waitFor(/status 0/);
    expect(peer.closes).toEqual([[1000, '']]);
  });

  it('listen: after fg, slash commands are read again and Ctrl-C stops it', async () => {
    const shell = underShell();
    shell.write(`${commandLine(['listen', '--port', '0', ...WAIT_FOR_CLOSE])}\r`);
    await shell.waitFor(/listening on[\s\S]*> /);
    shell.write('\x1a');
    await shell.waitFor(/Stopped/);
    shell.write('fg\r');
    // bash names the job it resumes; then readline draws the prompt again (after its pause)
    await shell.waitFor(/Stopped[\s\S]*fg\r\n[^\n]*listen[^\n]*\n[\s\S]*> /);
    shell.write('/clients\r');
    await shell.waitFor(/no clients/);
    shell.write('\x03');
    await shell.waitFor(/no clients connected[\s\S]*\$ /);
    shell.write('echo "status $?"; exit\r');
    await shell.waitFor(/status 0/);
  });
});

describe('riptide connect when its terminal hangs up', () => {
  it('closes with 1001 and exits 129, as on SIGHUP, whichever of EIO and SIGHUP comes first', async () => {
    // Regression: the terminal's EIO (end of input) usually comes before the SIGHUP, and closed
    // with 1000 as Ctrl-D does: the server heard of a normal end of a session that was cut.
    peer = await wsPeer();
    const { cli, hangUp } = underHangUpPty(['connect', peer.url]);
    await cli.waitFor(/> /);
    expect(await hangUp()).toBe(129);
    await until(() => peer!.closes.length === 1);
    expect(peer.closes[0]).toEqual([1001, '']);
  });

  it('a terminal that is not its controlling one hangs up (EIO, no SIGHUP): a later SIGHUP stops it at once', async () => {
    // Regression: the EIO was taken for the first half of a hang-up whose SIGHUP was still to
    // come, so the SIGHUP of a later \`kill -HUP\` was swallowed as that one, and the command
    // waited for the close timer (5 s), whose end prints \`closed 1006\`.
    const { peer: silent, close } = await silentPeer();
    try {
      const cli = new Cli(
        ['-c', NO_SIGHUP_DRIVER, process.execPath, BIN, 'connect', silent.url, ...WAIT_FOR_CLOSE],
        'python3',
        [],
      );
      const pid = Number((await cli.waitFor(/pid (\d+)/))[1]);
      await cli.waitFor(/connected to/, 'stderr');
      cli.write('hang up\n');
      // The EIO stopped it as a hang-up: its close (1001) is out, unanswered.
      await until(() => silent.closeFrames === 1);
      process.kill(pid, 'SIGHUP');
      expect(Number((await cli.waitFor(/exit (-?\d+)/, 'stderr'))[1])).toBe(129);
      expect(cli.stderr).not.toMatch(/closed/);
    } finally {
      await close();
    }
  });
});

/** `riptide listen` under a pty with one client connected; `closed` is that client's close. */
async function listenWithOneClient() {
  const cli = underPty(['listen', '--port', '0', ...WAIT_FOR_CLOSE]);
  const [, url] = await cli.waitFor(/listening on (ws:\/\/\S+)/);
  const ws = new WebSocket(url);
  const closed = new Promise<[number, string]>((resolve) =>
    ws.on('close', (code, reason) => resolve([code, reason.toString()])),
  );
  await cli.waitFor(/\[1\] connected from/);
  return { cli, closed };
}

/**
 * The rows a terminal shows after `output`, for the few escape sequences readline and the
 * commands write (cursor up, down, to a column; erase to the end of the row or of the screen):
 * where a row was overwritten or a prompt left behind, the screen, not the byte stream, says so.
 * No wrapping: `script`'s pty has no width (its stdin is no terminal), so readline wraps nothing.
 */
function screen(output: string): string[] {
  const rows = [''];
  let row = 0;
  let col = 0;
  for (let i = 0; i < output.length; i++) {
    const c = output[i]!;
    if (c === '\r') col = 0;
    else if (c === '\n') {
      row++;
      while (rows.length <= row) rows.push('');
    } else if (c === '\x1b') {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: an escape sequence is the point
      const m = /^\x1b\[(\d*)([ABGJK])/.exec(output.slice(i));
      if (m === null) throw new Error(`unexpected escape ${JSON.stringify(output.slice(i, i + 8))}`);
      const n = m[1] === '' ? 1 : Number(m[1]);
      if (m[2] === 'A') row = Math.max(0, row - n);
      else if (m[2] === 'B') {
        row += n;
        while (rows.length <= row) rows.push('');
      } else if (m[2] === 'G') col = n - 1;
      else {
        // J and K with 0 (or none): from the cursor to the end of the screen, of the row
        if (m[1] !== '' && m[1] !== '0') throw new Error(`unexpected escape ${m[0]}`);
        rows[row] = rows[row]!.slice(0, col);
        if (m[2] === 'J') rows.length = row + 1;
      }
      i += m[0].length - 1;
    } else {
      const text = rows[row]!.padEnd(col);
      rows[row] = text.slice(0, col) + c + text.slice(col + 1);
      col++;
    }
  }
  return rows;
}

describe('riptide listen in a terminal', () => {
  it('/help while messages arrive: its lines, then the prompt redrawn once, with what is typed after', async () => {
    // Each step waits on the screen it should leave: a message printed while '/he' is typed,
    // the help after Enter, a message after the help, then typing at the prompt redrawn.
    const cli = underPty(['listen', '--port', '0', ...WAIT_FOR_CLOSE]);
    const [, url] = await cli.waitFor(/listening on (ws:\/\/\S+)/);
    const rows = () => screen(cli.stdout);
    const shows = (...want: string[]) => {
      const now = rows();
      return want.every((w) => now.includes(w));
    };
    const last = () => rows().at(-1);
    const ws = new WebSocket(url);
    ws.on('error', () => {});
    await cli.waitUntil(() => /^\[1\] connected from/.test(rows()[1] ?? '') && last() === '> ', 'connected');
    cli.write('/he');
    await cli.waitUntil(() => last() === '> /he', "'/he' typed");
    ws.send('first');
    await cli.waitUntil(
      () => shows('[1] first') && last() === '> /he',
      'the message, then the prompt with /he',
    );
    cli.write('lp\r');
    await cli.waitUntil(() => shows('//text                send "/text"') && last() === '> ', 'the help');
    ws.send('second');
    await cli.waitUntil(() => shows('[1] second') && last() === '> ', 'the message after the help');
    cli.write('xyz');
    await cli.waitUntil(() => last() === '> xyz', "'xyz' typed");
    expect(rows().slice(1)).toEqual([
      expect.stringMatching(/^\[1\] connected from 127\.0\.0\.1:\d+$/),
      '[1] first',
      '> /help',
      '/clients              list connected clients',
      '/kick <n> [reason]    close client n (code 1000)',
      '/binary <hex>         send a binary message to every client',
      '/help                 list these commands',
      '//text                send "/text"',
      '[1] second',
      '> xyz',
    ]);
    cli.write('\x03');
    expect((await cli.exited).code).toBe(0);
  });

  it('Ctrl-D (end of input) stops the server as Ctrl-C does: clients closed with 1001, exit 0', async () => {
    const { cli, closed } = await listenWithOneClient();
    cli.write('\x04'); // Ctrl-D at an empty prompt, as the terminal delivers it in raw mode
    expect(await closed).toEqual([1001, 'server shutting down']);
    expect((await cli.exited).code).toBe(0);
    // Regression: the prompt stayed on screen, and the close line came after it on its row
    // (`> [1] closed 1001 ...`): it is erased first (cursor to column 1, erase down).
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal's escape sequences are the point
    expect(cli.stdout).toMatch(/> (\x1b\[\d+G)?\x1b\[1G\x1b\[0J\[1\] closed 1001 server shutting down\r\n$/);
  });

  it('a hang-up (the terminal goes away, as when ssh drops) closes the clients with 1001', async () => {
    // Regression: the hang-up killed the server (no close frame: 1006); then, handled, the writes
    // to the gone terminal failed with EIO, and Node's own terminal reset at exit aborted.
    const { cli, closed } = await listenWithOneClient();
    cli.signal('SIGKILL'); // `script` dies, its pty master closes: the kernel hangs the terminal up
    expect(await closed).toEqual([1001, 'server shutting down']);
  });

  it('a hang-up exits 0 once the clients are closed: its EIO and its SIGHUP are one stop', async () => {
    // Regression: the EIO (end of input) stopped the server, then the SIGHUP counted as a second
    // signal and exited at once with 129.
    const { cli, hangUp } = underHangUpPty(['listen', '--port', '0', ...WAIT_FOR_CLOSE]);
    const [, url] = await cli.waitFor(/listening on (ws:\/\/\S+)/);
    const ws = new WebSocket(url);
    const closed = new Promise<[number, string]>((resolve) =>
      ws.on('close', (code, reason) => resolve([code, reason.toString()])),
    );
    await cli.waitFor(/\[1\] connected from/);
    expect(await hangUp()).toBe(0);
    expect(await closed).toEqual([1001, 'server shutting down']);
  });

  it('a terminal that is not its controlling one hangs up (EIO, no SIGHUP): a later SIGHUP stops it at once', async () => {
    // Regression: the EIO was taken for the first half of a hang-up whose SIGHUP was still to
    // come, so a later \`kill -HUP\` was swallowed as that SIGHUP: the server waited for its
    // clients' answers (2 s) and exited 0, where a second stop exits at once with 129.
    const cli = new Cli(
      ['-c', NO_SIGHUP_DRIVER, process.execPath, BIN, 'listen', '--port', '0', ...WAIT_FOR_CLOSE],
      'python3',
      [],
    );
    const pid = Number((await cli.waitFor(/pid (\d+)/))[1]);
    const [, url] = await cli.waitFor(/listening on (ws:\/\/\S+)/);
    const client = silentClient(url);
    try {
      await cli.waitFor(/\[1\] connected from/);
      cli.write('hang up\n');
      // The EIO stopped the server as a hang-up: the client's close (1001) is out, unanswered.
      await until(() => client.closeFrames === 1);
      process.kill(pid, 'SIGHUP');
      expect(Number((await cli.waitFor(/exit (-?\d+)/, 'stderr'))[1])).toBe(129);
    } finally {
      client.socket.destroy();
    }
  });

  it('Ctrl-C leaves no prompt after the close lines of the clients', async () => {
    // Regression: each close line during the shutdown redrew the prompt, so the last thing on
    // screen was '> ', and the shell's own prompt came after it on the same line.
    const cli = underPty(['listen', '--port', '0', ...WAIT_FOR_CLOSE]);
    const [, url] = await cli.waitFor(/listening on (ws:\/\/\S+)/);
    const ws = new WebSocket(url);
    await cli.waitFor(/\[1\] connected from/);
    ws.on('close', () => {});
    cli.write('\x03');
    expect((await cli.exited).code).toBe(0);
    const after = cli.stdout.slice(cli.stdout.lastIndexOf('[1] closed 1001 server shutting down'));
    expect(after).toBe('[1] closed 1001 server shutting down\r\n');
  });
});

describe('--close-timeout: how long a close waits for its answer', () => {
  // The tests above pass 600 s where they need the command still waiting when they act; these
  // check the bound itself against peers that never answer a close. Elapsed times are lower
  // bounds only (a loaded machine makes them longer, never shorter), so the option is given a
  // value above the default: a command that ignored it would stop at the default, too early.

  it('connect: a server that never answers is dropped after it (closed 1006, exit 1); 5 s by default', async () => {
    const { peer: silent, close } = await silentPeer();
    try {
      for (const [args, atLeast] of [
        [['--close-timeout', '6'], 6000],
        [[], 5000],
      ] as const) {
        const cli = new Cli(['connect', silent.url, ...args]);
        await cli.waitFor(/connected to/, 'stderr');
        const started = Date.now();
        cli.end(); // end of piped input: close with 1000
        const res = await cli.exited;
        expect(Date.now() - started, args.join(' ')).toBeGreaterThanOrEqual(atLeast);
        // Regression: a bare `closed 1006` after seconds of waiting said neither why nor which flag.
        expect([res.code, res.stderr]).toEqual([
          1,
          expect.stringMatching(
            `\nno answer to the close within ${atLeast / 1000} s \\(--close-timeout\\): dropping the connection\nclosed 1006 \\(the connection ended without a closing handshake\\)\n$`,
          ),
        ]);
      }
      expect(silent.closeFrames).toBe(2);
    } finally {
      await close();
    }
  });

  it('connect: /close in a terminal is bounded by it too', async () => {
    const { peer: silent, close } = await silentPeer();
    try {
      const cli = underPty(['connect', silent.url, '--close-timeout', '0.3']);
      await cli.waitFor(/> /);
      cli.write('/close 4000\r');
      const res = await cli.exited;
      expect(res.code).toBe(1);
      expect(res.stdout).toMatch(
        /no answer to the close within 0\.3 s \(--close-timeout\): dropping the connection\r\nclosed 1006 /,
      );
      // Not the library's own close timer (30 s), which reports an error first.
      expect(res.stdout).not.toMatch(/error:/);
      expect(silent.closeFrames).toBe(1);
    } finally {
      await close();
    }
  });

  it('listen: a client that never answers is given up after it (exit 0, no close line); 2 s by default', async () => {
    for (const [args, atLeast] of [
      [['--close-timeout', '3'], 3000],
      [[], 2000],
    ] as const) {
      const cli = underPty(['listen', '--port', '0', ...args]);
      const [, url] = await cli.waitFor(/listening on (ws:\/\/\S+)/);
      const client = silentClient(url);
      try {
        await cli.waitFor(/\[1\] connected from/);
        const started = Date.now();
        cli.write('\x03');
        const res = await cli.exited;
        expect(Date.now() - started, args.join(' ')).toBeGreaterThanOrEqual(atLeast);
        expect(res.code).toBe(0);
        expect(res.stdout).not.toMatch(/\[1\] closed/);
        expect(client.closeFrames).toBe(1);
      } finally {
        client.socket.destroy();
      }
    }
  });
  it('echo and broadcast: a client that never answers is given up after it (exit 0)', async () => {
    await Promise.all(
      ['echo', 'broadcast'].map(async (command) => {
        const cli = new Cli([command, '--port', '0', '--close-timeout', '3']);
        const [, url] = await cli.waitFor(/listening on (ws:\/\/\S+)/);
        const client = silentClient(url);
        try {
          await cli.waitFor(/\[1\] connected from/);
          const started = Date.now();
          cli.signal('SIGINT');
          const res = await cli.exited;
          expect(Date.now() - started, command).toBeGreaterThanOrEqual(3000);
          expect([res.code, res.stdout], command).toEqual([0, expect.not.stringMatching(/\[1\] closed/)]);
          expect(client.closeFrames, command).toBe(1);
        } finally {
          client.socket.destroy();
        }
      }),
    );
  });
});
