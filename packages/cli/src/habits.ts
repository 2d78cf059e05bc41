/**
 * What someone used to wscat or websocat types first, and how riptide says it: a hint added to
 * the usage error (exit 2 all the same). Hints only, never aliases: a flag here means one thing,
 * and wscat's -p (a protocol version) is riptide's -p (a subprotocol), so it cannot mean both.
 */

/** Per command: a wscat/websocat flag riptide does not take, and what to type instead. */
const FLAGS: Record<string, Record<string, string>> = {
  connect: {
    '-c': 'the URL is the argument: riptide connect <url>',
    '--connect': 'the URL is the argument: riptide connect <url>',
    '-s': "a subprotocol is -p <name> here, wscat's -s",
    '--subprotocol': "a subprotocol is -p <name> here, wscat's -s",
    '-n': "-k or --insecure skips the certificate check, wscat's -n",
    '--no-check': "-k or --insecure skips the certificate check, wscat's -n",
    '-P': "--show-ping prints pings and pongs, wscat's -P",
    '--show-ping-pong': "--show-ping prints pings and pongs, wscat's -P",
    '-o': 'the Origin header is --origin <origin>',
    '-l': 'a server is its own command: riptide listen --port N',
    '--listen': 'a server is its own command: riptide listen --port N',
  },
};

const SERVERS = 'try riptide listen --port N; also echo, broadcast';

/** A first word that is no command: what it was probably meant to be. */
const COMMANDS: Record<string, string> = {
  '-c': 'try riptide connect <url>',
  '--connect': 'try riptide connect <url>',
  '-l': SERVERS,
  '--listen': SERVERS,
  '-s': SERVERS,
  '--server-mode': SERVERS,
  serve: SERVERS,
  server: SERVERS,
  client: 'try riptide connect <url>',
};

/** The hint for `option`, refused by `command` as unknown, or undefined. */
export function flagHint(command: string, option: string): string | undefined {
  return FLAGS[command]?.[option];
}

/**
 * The hint for `riptide <word>` where `word` is no command: a wscat flag, a server's name, or a
 * URL given first as to websocat (`riptide ws://host` means `riptide connect ws://host`).
 */
export function commandHint(word: string): string | undefined {
  if (Object.hasOwn(COMMANDS, word)) return COMMANDS[word];
  if (/^wss?:\/\//i.test(word)) return `try riptide connect ${word}`;
  return undefined;
}

/** The hint for a server command given a bare number, as `websocat -s 8080` takes it. */
export function portHint(argument: string): string | undefined {
  return /^\d+$/.test(argument) ? `the port is a flag: --port ${argument}` : undefined;
}
