/**
 * Message markup: the one parser of a message's text, shared so the page (web/format.ts draws its
 * result) and the server (server/hub/mentions.ts counts its mentions) agree on what is code, a
 * link or a mention: an `@name` the page shows as code or inside a link notifies nobody, and every
 * mention the server counts is one the page can highlight. The parser yields plain objects
 * (blocks and inlines) and never HTML; the only thing taken from the text for an attribute is a
 * link's href, and only for http(s) URLs the URL parser accepts.
 *
 * Syntax (the one chat users know from Slack):
 * - blocks: fenced code (``` on its own line, an optional language, until ``` or the end), quotes
 *   (lines starting with `>`, nested up to MAX_QUOTE_DEPTH), and paragraphs (the other lines).
 * - inlines, per line: `code` (nothing inside is formatted), http(s) links, `*bold*`, `_italic_`
 *   and `@name`. A `*` or `_` opens only after a space or punctuation and before a non-space, and
 *   closes only after a non-space and before a space or punctuation, so snake_case_words and 2*3*4
 *   stay as they are. Unmatched markers stay literal.
 * - `@name` (1 to 24 of A-Z a-z 0-9 _ -) is a mention only standing alone: not after a letter, a
 *   digit, `_` or `-` (`a@b.org`, `x_@bob`), not followed by another name character (a longer
 *   word is no name), and never inside a code span, a fenced block or a link.
 */

export type Inline =
  | { type: 'text'; text: string }
  | { type: 'bold' | 'italic'; children: Inline[] }
  | { type: 'code'; text: string }
  | { type: 'link'; href: string; text: string }
  | { type: 'mention'; name: string };

export type Block =
  | { type: 'paragraph'; children: Inline[] }
  | { type: 'code'; lang?: string; text: string }
  | { type: 'quote'; children: Block[] };

const MAX_QUOTE_DEPTH = 3;
const FENCE = '```';
const LANG = /^[A-Za-z0-9_+#.-]{1,20}$/;
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;
/** Punctuation that ends a sentence or a markup, not a URL, when it ends one. */
const TRAILING = '.,;:!?*_';
/** Closing brackets end a URL only when unbalanced: "wiki/Foo_(bar)" keeps its ")". */
const CLOSERS: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
/** A name as USER_NAME (shared/protocol.ts) allows it, not followed by more of one. */
const MENTION = /^@([A-Za-z0-9_-]{1,24})(?![A-Za-z0-9_-])/;
const NAME_CHAR = /[A-Za-z0-9_-]/;
const WORD = /[\p{L}\p{N}]/u;
const SPACE = /\s/u;

export function safeHref(candidate: string): string | null {
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return null;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
}

// ---- blocks ----

export function parse(text: string): Block[] {
  return parseBlocks(text.split('\n'), 0);
}

function parseBlocks(lines: string[], depth: number): Block[] {
  const blocks: Block[] = [];
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length > 0) blocks.push({ type: 'paragraph', children: parseLines(paragraph) });
    paragraph = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const trimmed = line.trim();
    if (trimmed.startsWith(FENCE)) {
      flush();
      i = fence(lines, i, blocks);
      continue;
    }
    if (line.startsWith('>') && depth < MAX_QUOTE_DEPTH) {
      flush();
      const quoted: string[] = [];
      while (i < lines.length && lines[i].startsWith('>')) {
        const rest = lines[i].slice(1);
        quoted.push(rest.startsWith(' ') ? rest.slice(1) : rest);
        i++;
      }
      i--;
      blocks.push({ type: 'quote', children: parseBlocks(quoted, depth + 1) });
      continue;
    }
    paragraph.push(line);
  }
  flush();
  return blocks;
}

/** A fenced code block starting at lines[start]; returns the index of its last line. */
function fence(lines: string[], start: number, blocks: Block[]): number {
  const opening = lines[start].trim().slice(FENCE.length);
  // ```one line```
  if (opening.length > FENCE.length && opening.endsWith(FENCE)) {
    blocks.push({ type: 'code', text: opening.slice(0, -FENCE.length) });
    return start;
  }
  const body: string[] = [];
  let lang: string | undefined;
  if (LANG.test(opening)) lang = opening;
  else if (opening !== '') body.push(opening);
  let i = start + 1;
  for (; i < lines.length; i++) {
    const trimmed = lines[i].trimEnd();
    if (trimmed.endsWith(FENCE)) {
      const before = trimmed.slice(0, -FENCE.length);
      if (before.trim() !== '') body.push(before);
      break;
    }
    body.push(lines[i]);
  }
  blocks.push(
    lang === undefined
      ? { type: 'code', text: body.join('\n') }
      : { type: 'code', lang, text: body.join('\n') },
  );
  return i;
}

// ---- inlines ----

function parseLines(lines: string[]): Inline[] {
  const out: Inline[] = [];
  lines.forEach((line, i) => {
    if (i > 0) pushText(out, '\n');
    for (const node of parseInline(line)) {
      if (node.type === 'text') pushText(out, node.text);
      else out.push(node);
    }
  });
  return out;
}

function pushText(out: Inline[], text: string): void {
  if (text === '') return;
  const last = out.at(-1);
  if (last?.type === 'text') last.text += text;
  else out.push({ type: 'text', text });
}

type Token = Inline | { type: 'delim'; ch: '*' | '_'; open: boolean; close: boolean };

/** One line: code spans, links and mentions first (nothing inside them is formatted), then emphasis. */
export function parseInline(line: string): Inline[] {
  return emphasis(tokenize(line));
}

function tokenize(line: string): Token[] {
  const tokens: Token[] = [];
  let text = '';
  const flushText = () => {
    if (text !== '') tokens.push({ type: 'text', text });
    text = '';
  };
  const links = linkSpans(line);
  let link = 0;
  for (let i = 0; i < line.length; ) {
    while (link < links.length && links[link].start < i) link++;
    const span = links[link];
    if (span && span.start === i) {
      flushText();
      tokens.push({ type: 'link', href: span.href, text: span.text });
      i += span.text.length;
      continue;
    }
    const ch = line[i];
    if (ch === '`') {
      const end = line.indexOf('`', i + 1);
      if (end > i + 1) {
        flushText();
        tokens.push({ type: 'code', text: line.slice(i + 1, end) });
        i = end + 1;
        continue;
      }
    }
    if (ch === '@' && !isWord(line[i - 1]) && !NAME_CHAR.test(line[i - 1] ?? '')) {
      // The @, at most 24 name characters and one more for the lookahead.
      const m = MENTION.exec(line.slice(i, i + 26));
      if (m) {
        flushText();
        tokens.push({ type: 'mention', name: m[1] });
        i += m[0].length;
        continue;
      }
    }
    if (ch === '*' || ch === '_') {
      const prev = line[i - 1];
      const next = line[i + 1];
      const open = !isWord(prev) && next !== undefined && !SPACE.test(next);
      const close = prev !== undefined && !SPACE.test(prev) && !isWord(next);
      if (open || close) {
        flushText();
        tokens.push({ type: 'delim', ch, open, close });
        i++;
        continue;
      }
    }
    text += ch;
    i++;
  }
  flushText();
  return tokens;
}

function isWord(ch: string | undefined): boolean {
  return ch !== undefined && WORD.test(ch);
}

/** `url` without the punctuation and unbalanced closing brackets at its end (one pass each way). */
function trimUrl(url: string): string {
  const open = new Map<string, number>();
  for (const ch of url) open.set(ch, (open.get(ch) ?? 0) + 1);
  let end = url.length;
  while (end > 0) {
    const last = url[end - 1];
    const opener = CLOSERS[last];
    // Balanced: as many of its openers as of it, in the part of the URL left.
    if (opener !== undefined && (open.get(opener) ?? 0) >= (open.get(last) ?? 0)) break;
    if (opener === undefined && !TRAILING.includes(last)) break;
    open.set(last, (open.get(last) ?? 0) - 1);
    end--;
  }
  return url.slice(0, end);
}

function linkSpans(line: string): { start: number; text: string; href: string }[] {
  const spans: { start: number; text: string; href: string }[] = [];
  for (const match of line.matchAll(URL_PATTERN)) {
    const raw = trimUrl(match[0]);
    const href = safeHref(raw);
    if (href) spans.push({ start: match.index ?? 0, text: raw, href });
  }
  return spans;
}

interface Frame {
  ch: '*' | '_' | null;
  children: Inline[];
}

/** Pairs `*` and `_` markers into bold and italic; an unmatched marker is text. */
function emphasis(tokens: Token[]): Inline[] {
  const stack: Frame[] = [{ ch: null, children: [] }];
  const top = () => stack[stack.length - 1];
  const add = (node: Inline) => {
    if (node.type === 'text') pushText(top().children, node.text);
    else top().children.push(node);
  };
  // An unclosed frame: its marker becomes text, its children go to the frame below.
  const unwind = () => {
    const frame = stack.pop() as Frame;
    add({ type: 'text', text: frame.ch ?? '' });
    for (const child of frame.children) add(child);
  };
  for (const token of tokens) {
    if (token.type !== 'delim') {
      add(token);
      continue;
    }
    const at = token.close ? findOpener(stack, token.ch) : -1;
    if (at > 0) {
      while (stack.length - 1 > at) unwind();
      const frame = stack.pop() as Frame;
      if (frame.children.length === 0) {
        add({ type: 'text', text: token.ch + token.ch });
        continue;
      }
      add({ type: token.ch === '*' ? 'bold' : 'italic', children: frame.children });
    } else if (token.open) stack.push({ ch: token.ch, children: [] });
    else add({ type: 'text', text: token.ch });
  }
  while (stack.length > 1) unwind();
  return stack[0].children;
}

function findOpener(stack: Frame[], ch: '*' | '_'): number {
  for (let i = stack.length - 1; i > 0; i--) if (stack[i].ch === ch) return i;
  return -1;
}

/** The text a reader sees (for excerpts and notifications): the markers are dropped. */
export function plainText(blocks: Block[]): string {
  const inline = (nodes: Inline[]): string =>
    nodes
      .map((n) =>
        n.type === 'text' || n.type === 'code' || n.type === 'link'
          ? n.text
          : n.type === 'mention'
            ? `@${n.name}`
            : inline(n.children),
      )
      .join('');
  return blocks
    .map((b) =>
      b.type === 'paragraph' ? inline(b.children) : b.type === 'code' ? b.text : plainText(b.children),
    )
    .join('\n');
}

/**
 * The names (lower case, each once, in order of first appearance) that `text` mentions: exactly
 * the `mention` inlines parse() gives, wherever they sit (in paragraphs, quotes, bold or italic).
 */
export function mentionNames(text: string): string[] {
  const names = new Set<string>();
  const inline = (nodes: Inline[]): void => {
    for (const node of nodes) {
      if (node.type === 'mention') names.add(node.name.toLowerCase());
      else if (node.type === 'bold' || node.type === 'italic') inline(node.children);
    }
  };
  const blocks = (list: Block[]): void => {
    for (const block of list) {
      if (block.type === 'paragraph') inline(block.children);
      else if (block.type === 'quote') blocks(block.children);
    }
  };
  blocks(parse(text));
  return [...names];
}
