/**
 * Reads docs/chat-protocol.md into runnable steps: every ```chat block becomes a Block, and the
 * ```js block of the bot is kept as source. The notation is explained at the top of the document.
 */

export type Step =
  | { kind: 'comment' }
  | { kind: 'limits'; limits: Record<string, unknown> }
  /** `~ admins: root`: the server's admins (ChatServerOptions.admins). */
  | { kind: 'admins'; users: string[] }
  | { kind: 'accounts'; users: string[]; connect: boolean }
  | { kind: 'later'; ms: number }
  | { kind: 'sendJson'; user: string; text: string }
  | { kind: 'sendRaw'; user: string; text: string }
  | { kind: 'close'; user: string }
  | {
      kind: 'http';
      user: string;
      method: string;
      path: string;
      headers: Record<string, string>;
      body?: unknown;
    }
  | { kind: 'expectJson'; user: string; expected: unknown }
  | { kind: 'expectStatus'; user: string; status: number; body?: unknown }
  | { kind: 'expectClose'; user: string; code: number };

export interface Block {
  /** 1-based line of the block's first line in the document (for failure messages). */
  line: number;
  steps: { line: number; text: string; step: Step }[];
}

/** The value `…` (outside a string) stands for: any value. */
export const ANY = '\u0000any';

/** Replaces an unquoted … by a placeholder string, so the text parses as JSON. */
function wildcards(json: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (inString) {
      out += c;
      if (c === '\\') out += json[++i] ?? '';
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '…') out += JSON.stringify(ANY);
    else out += c;
  }
  return out;
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(wildcards(text));
  } catch (err) {
    throw new Error(`${where}: not JSON: ${text} (${(err as Error).message})`);
  }
}

const ARROW = /^([a-z][a-z0-9_-]*) (→|←) (.*)$/;

function parseStep(text: string, where: string): Step {
  if (text.startsWith('#') || text === '') return { kind: 'comment' };
  if (text.startsWith('~ ')) {
    const rest = text.slice(2);
    let m = /^limits: (\{.*\})$/.exec(rest);
    if (m) return { kind: 'limits', limits: parseJson(m[1], where) as Record<string, unknown> };
    m = /^admins: (.+)$/.exec(rest);
    if (m) return { kind: 'admins', users: m[1].split(/,\s*/) };
    m = /^signed in( and connected)?: (.+)$/.exec(rest);
    if (m) return { kind: 'accounts', users: m[2].split(/,\s*/), connect: m[1] !== undefined };
    m = /^(\d+) ms later$/.exec(rest);
    if (m) return { kind: 'later', ms: Number(m[1]) };
    throw new Error(`${where}: unknown directive: ${text}`);
  }
  const m = ARROW.exec(text);
  if (!m) throw new Error(`${where}: cannot read: ${text}`);
  const [, user, arrow, rest] = m;
  if (arrow === '→') {
    if (rest === 'close') return { kind: 'close', user };
    if (rest.startsWith('{')) return { kind: 'sendJson', user, text: rest };
    if (rest.startsWith('"')) return { kind: 'sendRaw', user, text: JSON.parse(rest) as string };
    const http = /^(GET|POST) (\S+)(?: \(([^)]*)\))?(?: (.*))?$/.exec(rest);
    if (!http) throw new Error(`${where}: cannot read the request: ${rest}`);
    const headers: Record<string, string> = {};
    for (const pair of (http[3] ?? '').split(';').filter(Boolean)) {
      const i = pair.indexOf(':');
      headers[pair.slice(0, i).trim().toLowerCase()] = pair.slice(i + 1).trim();
    }
    return {
      kind: 'http',
      user,
      method: http[1],
      path: http[2],
      headers,
      ...(http[4] !== undefined ? { body: parseJson(http[4], where) } : {}),
    };
  }
  if (rest.startsWith('{')) return { kind: 'expectJson', user, expected: parseJson(rest, where) };
  const close = /^close (\d+)$/.exec(rest);
  if (close) return { kind: 'expectClose', user, code: Number(close[1]) };
  const status = /^(\d{3})(?: (.*))?$/.exec(rest);
  if (status)
    return {
      kind: 'expectStatus',
      user,
      status: Number(status[1]),
      ...(status[2] !== undefined ? { body: parseJson(status[2], where) } : {}),
    };
  throw new Error(`${where}: cannot read the expectation: ${rest}`);
}

export function parseDoc(markdown: string): { blocks: Block[]; code: { lang: string; source: string }[] } {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  const code: { lang: string; source: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\w+)$/.exec(lines[i]);
    if (!fence) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end] !== '```') end++;
    const body = lines.slice(start, end);
    if (fence[1] === 'chat') {
      blocks.push({
        line: start + 1,
        steps: body.map((text, k) => ({
          line: start + k + 1,
          text,
          step: parseStep(text, `docs/chat-protocol.md:${start + k + 1}`),
        })),
      });
    } else code.push({ lang: fence[1], source: body.join('\n') });
    i = end;
  }
  return { blocks, code };
}
