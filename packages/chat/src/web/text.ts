/**
 * User text to DOM nodes: text nodes and safe links only, never HTML. A link is made only for
 * http: and https: URLs that the URL parser accepts; everything else stays plain text.
 */
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+/gi;
const TRAILING = /[.,;:!?)\]}]+$/;

export function safeHref(candidate: string): string | null {
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return null;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
}

/** Appends `text` to `parent` as text nodes and <a rel="noopener noreferrer"> links. */
export function renderText(parent: HTMLElement, text: string): void {
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const start = match.index ?? 0;
    const raw = match[0].replace(TRAILING, '');
    const href = safeHref(raw);
    if (!href) continue;
    if (start > last) parent.append(document.createTextNode(text.slice(last, start)));
    const a = document.createElement('a');
    a.href = href;
    a.textContent = raw;
    a.rel = 'noopener noreferrer';
    a.target = '_blank';
    parent.append(a);
    last = start + raw.length;
  }
  if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing #${id}`);
  return node as T;
}
