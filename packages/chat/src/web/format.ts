/**
 * Message formatting: text -> a parsed structure (shared/markup.ts, the parser the server also
 * counts mentions with) -> DOM nodes. User text never becomes HTML: the builder makes each element
 * itself with createElement and puts text in with text nodes; the only attribute taken from the
 * text is a link's href, which the parser gives only for http(s) URLs the URL parser accepts.
 */
import type { Block, Inline } from '../shared/markup.js';
import { parse } from '../shared/markup.js';

export {
  type Block,
  type Inline,
  parse,
  parseInline,
  plainText,
  safeHref,
} from '../shared/markup.js';

// ---- DOM ----

/** What the builder needs of `document` (tests give it a small fake one). */
export interface Doc {
  createElement(tag: string): DomElement;
  createTextNode(text: string): unknown;
}
export interface DomElement {
  className: string;
  append(...nodes: unknown[]): void;
  setAttribute(name: string, value: string): void;
}

export interface FormatOptions {
  /** Names (lower case) the server found mentioned: shown highlighted. */
  mentions?: ReadonlySet<string>;
  /** The reader's name (lower case): a mention of them is marked `mention me`. */
  me?: string;
}

/** Appends the formatted `text` to `parent`. */
export function renderFormatted(
  doc: Doc,
  parent: DomElement,
  text: string,
  options: FormatOptions = {},
): void {
  for (const block of parse(text)) parent.append(blockNode(doc, block, options));
}

function blockNode(doc: Doc, block: Block, options: FormatOptions): DomElement {
  if (block.type === 'code') {
    const pre = doc.createElement('pre');
    const code = doc.createElement('code');
    if (block.lang) code.setAttribute('data-lang', block.lang);
    code.append(doc.createTextNode(block.text));
    pre.append(code);
    return pre;
  }
  if (block.type === 'quote') {
    const quote = doc.createElement('blockquote');
    for (const child of block.children) quote.append(blockNode(doc, child, options));
    return quote;
  }
  const p = doc.createElement('p');
  appendInlines(doc, p, block.children, options);
  return p;
}

function appendInlines(doc: Doc, parent: DomElement, nodes: Inline[], options: FormatOptions): void {
  for (const node of nodes) {
    switch (node.type) {
      case 'text':
        parent.append(doc.createTextNode(node.text));
        break;
      case 'code': {
        const code = doc.createElement('code');
        code.append(doc.createTextNode(node.text));
        parent.append(code);
        break;
      }
      case 'link': {
        const a = doc.createElement('a');
        a.setAttribute('href', node.href);
        a.setAttribute('rel', 'noopener noreferrer');
        a.setAttribute('target', '_blank');
        a.append(doc.createTextNode(node.text));
        parent.append(a);
        break;
      }
      case 'mention': {
        const name = node.name.toLowerCase();
        if (!options.mentions?.has(name)) {
          parent.append(doc.createTextNode(`@${node.name}`));
          break;
        }
        const span = doc.createElement('span');
        span.className = name === options.me ? 'mention me' : 'mention';
        span.append(doc.createTextNode(`@${node.name}`));
        parent.append(span);
        break;
      }
      default: {
        const em = doc.createElement(node.type === 'bold' ? 'strong' : 'em');
        appendInlines(doc, em, node.children, options);
        parent.append(em);
      }
    }
  }
}
