/**
 * shared/markup.ts: the parser the page draws with and the server counts mentions with. The table
 * runs each text through both sides, the server's mentionCandidates (server/hub/mentions.ts) and
 * the page's renderFormatted (web/format.ts), and asserts they find the same mentions: an `@name`
 * the page shows as code or a link notifies nobody (regression: `@bob` in backticks gave bob a
 * mention badge and a notification), and each one the server counts is one the page highlights.
 * The parser's other output (code, links, emphasis, blocks) is tested in web/format.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { mentionCandidates } from '../../src/server/hub/mentions.js';
import { mentionNames, parse, parseInline } from '../../src/shared/markup.js';
import { type Doc, type DomElement, renderFormatted } from '../../src/web/format.js';

/** [what the case shows, the message text, the names both sides must find (lower case, in order)] */
const CASES: [string, string, string[]][] = [
  ['plain', '@bob', ['bob']],
  ['plain, among words and punctuation', 'hi @Bob, (@carol) @dave.', ['bob', 'carol', 'dave']],
  ['each name once, case-insensitively', '@Bob @BOB @bob', ['bob']],
  ['in inline code', 'try `@bob` now', []],
  ['inline code holding more', 'run `ping @bob && ping @carol`', []],
  ['in a fenced block', 'look:\n```\n@bob\n```', []],
  ['in a fenced block with a language, mention after it', '```js\nconst a = "@bob";\n```\n@carol', ['carol']],
  ['in a one-line fence', '```@bob```', []],
  ['in an unterminated fence (code to the end)', '```\n@bob\nstill code @carol', []],
  ['before and after a fence', '@bob\n```\n@carol\n```\n@dave', ['bob', 'dave']],
  ['in a fence inside a quote', '> ```\n> @bob\n> ```\n> @carol', ['carol']],
  ['in a quote, and in code inside a nested quote', '> @bob\n>> `@carol`', ['bob']],
  ['in a URL', 'see https://example.social/@bob and HTTP://x.org/u/@carol/post', []],
  ['after a URL that ends at punctuation', 'https://x.org/a, @bob', ['bob']],
  ['in a URL that ends where a code span starts', 'https://x.org/a`@bob`', []],
  ['a URL in code, then a mention', '`https://x.org/@bob` @carol', ['carol']],
  ['after an e-mail-like word', 'mail a@bob or a@bob.org', []],
  ['after a non-ASCII letter or a digit', 'é@bob 1@carol', []],
  ['after a name character', 'x_@bob x-@carol', []],
  ['unterminated backtick: the rest is text', 'a ` @bob', ['bob']],
  ['empty code span: the backticks are text', '``@bob', ['bob']],
  ['adjacent to a code span, after it', '`x`@bob', ['bob']],
  ['adjacent to a code span, before it', '@bob`@carol`', ['bob']],
  ['code spans around a mention', '`@carol` @bob `@dave`', ['bob']],
  ['in bold and in italic', '*@bob* and _hey @carol you_', ['bob', 'carol']],
  // `_` is a name character: a name written right before an italic's closing `_` takes it.
  ['before a closing underscore', '_hey @carol_', ['carol_']],
  ['a longer name is that name, not its prefix', '@bob-longer @bob_x', ['bob-longer', 'bob_x']],
  ['longer than a name can be', `@${'b'.repeat(25)}`, []],
  ['the longest name', `@${'b'.repeat(24)}`, ['b'.repeat(24)]],
  ['an @ alone', 'no mentions @ all, @@', []],
  ['after an @', '@@bob', ['bob']],
];

/** Every name the table expects: the page is told they all are members, so it highlights any it finds. */
const EVERYONE = new Set(CASES.flatMap(([, , names]) => names));

interface FakeNode {
  tag: string;
  className: string;
  children: (FakeNode | { text: string })[];
}

/** The names the page highlights in `text` (lower case, each once, in order). */
function highlighted(text: string, mentions: ReadonlySet<string>): string[] {
  const make = (tag: string): FakeNode & DomElement => {
    const node = {
      tag,
      className: '',
      children: [] as (FakeNode | { text: string })[],
      append: (...nodes: unknown[]) => node.children.push(...(nodes as FakeNode[])),
      setAttribute: () => {},
    };
    return node;
  };
  const root = make('div');
  const doc: Doc = { createElement: make, createTextNode: (t: string) => ({ text: t }) };
  renderFormatted(doc, root, text, { mentions });
  const names = new Set<string>();
  const walk = (node: FakeNode | { text: string }): void => {
    if ('text' in node) return;
    if (node.tag === 'span' && node.className.startsWith('mention')) {
      const [only] = node.children as { text: string }[];
      names.add(only.text.slice(1).toLowerCase());
    }
    for (const child of node.children) walk(child);
  };
  walk(root);
  return [...names];
}

describe('the server and the page find the same mentions', () => {
  it.each(CASES)('%s: %j', (_, text, names) => {
    expect(mentionCandidates(text)).toEqual(names);
    expect(highlighted(text, EVERYONE)).toEqual(names);
    expect(mentionNames(text)).toEqual(names);
  });

  it('the page highlights exactly the names the server resolved, wherever else they are written', () => {
    const text = '@bob `@carol` @dave\n```\n@bob @carol\n```';
    // The server found bob and dave; carol is only written in code.
    expect(mentionCandidates(text)).toEqual(['bob', 'dave']);
    expect(highlighted(text, new Set(['bob', 'carol', 'dave']))).toEqual(['bob', 'dave']);
    expect(highlighted(text, new Set(['dave']))).toEqual(['dave']);
  });
});

describe('mentionNames', () => {
  it('walks paragraphs, quotes, bold and italic, in the order written', () => {
    expect(mentionNames('*x @dave* > not a quote\n> _x @carol x_\n@bob @Dave')).toEqual([
      'dave',
      'carol',
      'bob',
    ]);
    expect(mentionNames('')).toEqual([]);
  });

  it('gives the names parse() marks as mentions, nothing else', () => {
    expect(parseInline('a@bob @carol-x @dave')).toEqual([
      { type: 'text', text: 'a@bob ' },
      { type: 'mention', name: 'carol-x' },
      { type: 'text', text: ' ' },
      { type: 'mention', name: 'dave' },
    ]);
    // A name that runs past 24 characters is left as text, not cut to a mention of its prefix.
    const long = `@${'a'.repeat(30)}`;
    expect(parse(long)).toEqual([{ type: 'paragraph', children: [{ type: 'text', text: long }] }]);
  });
});
