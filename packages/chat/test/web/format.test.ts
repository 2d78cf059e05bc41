/**
 * Message formatting (web/format.ts): the parsed structure for each piece of syntax, markers that
 * must stay literal, and the DOM builder, driven with a small fake document that records every
 * element, attribute and text node, so the XSS payloads are shown to end up as text only.
 */
import { describe, expect, it } from 'vitest';
import {
  type Doc,
  type DomElement,
  parse,
  parseInline,
  plainText,
  renderFormatted,
} from '../../src/web/format.js';

const text = (t: string) => ({ type: 'text', text: t });

describe('inline formatting', () => {
  it('makes *bold*, _italic_ and `code`', () => {
    expect(parseInline('a *b* c')).toEqual([text('a '), { type: 'bold', children: [text('b')] }, text(' c')]);
    expect(parseInline('_it_')).toEqual([{ type: 'italic', children: [text('it')] }]);
    expect(parseInline('run `npm *test*` now')).toEqual([
      text('run '),
      { type: 'code', text: 'npm *test*' },
      text(' now'),
    ]);
  });

  it('nests italic in bold and keeps links and code inside them', () => {
    expect(parseInline('*very _much_ so*')).toEqual([
      { type: 'bold', children: [text('very '), { type: 'italic', children: [text('much')] }, text(' so')] },
    ]);
    expect(parseInline('*see https://example.com/a_b_c*')).toEqual([
      {
        type: 'bold',
        children: [
          text('see '),
          { type: 'link', href: 'https://example.com/a_b_c', text: 'https://example.com/a_b_c' },
        ],
      },
    ]);
  });

  it('leaves markers inside words, unmatched ones and empty pairs as they are', () => {
    for (const line of [
      'snake_case_name',
      '2*3*4',
      'a * b * c',
      '*open only',
      'close only*',
      '**',
      'x_ y_',
    ]) {
      expect(parseInline(line)).toEqual([text(line)]);
    }
    // An unclosed bold around a closed italic: the italic stays, the star is text.
    expect(parseInline('*a _b_')).toEqual([text('*a '), { type: 'italic', children: [text('b')] }]);
    expect(parseInline('a ` b')).toEqual([text('a ` b')]);
  });

  it('links only http(s) URLs, without trailing punctuation', () => {
    expect(parseInline('see https://example.com/docs.')).toEqual([
      text('see '),
      { type: 'link', href: 'https://example.com/docs', text: 'https://example.com/docs' },
      text('.'),
    ]);
    // A closing bracket ends a URL only when the URL did not open it (regression: Wikipedia's
    // "Foo_(bar)" lost its ")").
    const wiki = 'https://en.wikipedia.org/wiki/Foo_(bar)';
    expect(parseInline(`read ${wiki}, or (${wiki}).`)).toEqual([
      text('read '),
      { type: 'link', href: wiki, text: wiki },
      text(', or ('),
      { type: 'link', href: wiki, text: wiki },
      text(').'),
    ]);
    expect(parseInline('(see https://example.com/a)')).toEqual([
      text('(see '),
      { type: 'link', href: 'https://example.com/a', text: 'https://example.com/a' },
      text(')'),
    ]);
    expect(parseInline('[https://example.com/x[1]]!')).toEqual([
      text('['),
      { type: 'link', href: 'https://example.com/x[1]', text: 'https://example.com/x[1]' },
      text(']!'),
    ]);
    expect(parseInline('javascript:alert(1) ftp://x.org data:text/html,hi')).toEqual([
      text('javascript:alert(1) ftp://x.org data:text/html,hi'),
    ]);
  });

  it('finds @mentions, but not in e-mail addresses', () => {
    expect(parseInline('hi @bob, mail a@b.org')).toEqual([
      text('hi '),
      { type: 'mention', name: 'bob' },
      text(', mail a@b.org'),
    ]);
  });
});

describe('blocks', () => {
  it('fenced code keeps its text untouched, with an optional language', () => {
    expect(parse('look:\n```js\nconst a = *b*;\n  indented\n```\nafter')).toEqual([
      { type: 'paragraph', children: [text('look:')] },
      { type: 'code', lang: 'js', text: 'const a = *b*;\n  indented' },
      { type: 'paragraph', children: [text('after')] },
    ]);
    expect(parse('```one line```')).toEqual([{ type: 'code', text: 'one line' }]);
    expect(parse('```\nnot closed')).toEqual([{ type: 'code', text: 'not closed' }]);
  });

  it('quotes, nested, with formatting inside', () => {
    expect(parse('> said *this*\n>> and that\nreply')).toEqual([
      {
        type: 'quote',
        children: [
          { type: 'paragraph', children: [text('said '), { type: 'bold', children: [text('this')] }] },
          { type: 'quote', children: [{ type: 'paragraph', children: [text('and that')] }] },
        ],
      },
      { type: 'paragraph', children: [text('reply')] },
    ]);
  });

  it('keeps line breaks inside a paragraph, and formatting does not cross lines', () => {
    expect(parse('*a\nb*')).toEqual([{ type: 'paragraph', children: [text('*a\nb*')] }]);
  });

  it('gives the plain text a reader sees', () => {
    expect(plainText(parse('> *hi* `x`\n_there_ @bob'))).toBe('hi x\nthere @bob');
  });
});

// ---- a fake document that records what the builder makes ----

interface FakeNode {
  tag: string;
  attrs: Record<string, string>;
  className: string;
  children: (FakeNode | { text: string })[];
}

function fakeDoc(): Doc & { root(): FakeNode } {
  const make = (tag: string): FakeNode & DomElement => {
    const node = {
      tag,
      attrs: {} as Record<string, string>,
      className: '',
      children: [] as (FakeNode | { text: string })[],
      append: (...nodes: unknown[]) => node.children.push(...(nodes as FakeNode[])),
      setAttribute: (name: string, value: string) => {
        node.attrs[name] = value;
      },
    };
    return node;
  };
  const root = make('div');
  return { createElement: make, createTextNode: (t: string) => ({ text: t }), root: () => root };
}

function walk(node: FakeNode | { text: string }, visit: (n: FakeNode) => void): void {
  if ('text' in node) return;
  visit(node);
  for (const child of node.children) walk(child, visit);
}

function textOf(node: FakeNode | { text: string }): string {
  return 'text' in node ? node.text : node.children.map(textOf).join('');
}

function render(input: string, options = {}): FakeNode {
  const doc = fakeDoc();
  renderFormatted(doc, doc.root() as unknown as DomElement, input, options);
  return doc.root();
}

describe('the DOM builder', () => {
  it('builds the elements of the structure', () => {
    const root = render('*b* _i_ `c` https://x.org\n> q\n```\npre\n```');
    const tags: string[] = [];
    walk(root, (n) => tags.push(n.tag));
    expect(tags).toEqual(['div', 'p', 'strong', 'em', 'code', 'a', 'blockquote', 'p', 'pre', 'code']);
    const a = root.children[0] as FakeNode;
    const link = a.children.find((c) => 'tag' in c && c.tag === 'a') as FakeNode;
    expect(link.attrs).toEqual({ href: 'https://x.org/', rel: 'noopener noreferrer', target: '_blank' });
  });

  it('highlights only the mentions the server found, and marks the reader', () => {
    const root = render('@Bob @carol @ann', { mentions: new Set(['bob', 'ann']), me: 'ann' });
    const spans: [string, string][] = [];
    walk(root, (n) => n.tag === 'span' && spans.push([n.className, textOf(n)]));
    expect(spans).toEqual([
      ['mention', '@Bob'],
      ['mention me', '@ann'],
    ]);
    expect(textOf(root)).toBe('@Bob @carol @ann');
  });

  const payloads = [
    '<img src=x onerror=alert(1)>',
    '<script>alert(2)</script>',
    'javascript:alert(3)',
    '<a href="javascript:alert(4)">*click*</a>',
    '"><svg onload=alert(5)>',
    '`<iframe src=javascript:alert(6)>`',
    '```html\n<script>alert(7)</script>\n```',
    '> <img src=x onerror=alert(8)>',
    'https://example.com/"><script>alert(9)</script>',
    '_<b onmouseover=alert(10)>x</b>_',
  ];

  it.each(payloads)('keeps %j inert: only known elements, its text as text', (payload) => {
    const root = render(payload);
    walk(root, (n) => {
      expect(['div', 'p', 'strong', 'em', 'code', 'pre', 'blockquote', 'a', 'span']).toContain(n.tag);
      for (const [name, value] of Object.entries(n.attrs)) {
        expect(['href', 'rel', 'target', 'data-lang']).toContain(name);
        if (name === 'href') expect(value).toMatch(/^https?:\/\/[^"<>\s]*$/);
      }
    });
    // Nothing of the payload is lost or added: markers and spaces aside, the reader sees its characters.
    const shown = (s: string) => s.replace(/[*_`>\s]/g, '');
    expect(shown(textOf(root))).toBe(shown(payload.replace(/```html\n|\n```/g, '')));
  });
});
