/**
 * If-None-Match (RFC 9110 13.1.2), for every answer this server tags: the page's files (routes.ts)
 * and attachment downloads (attachments.ts), so both answer 304 alike.
 *
 *   If-None-Match = "*" / #entity-tag        entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE
 *
 * "A recipient MUST use the weak comparison function when comparing entity tags for
 * If-None-Match": `W/"x"` matches `"x"`. The header is read in one pass, left to right, with no
 * regular expression: a long one (up to node's header limit) costs its length, and nothing after a
 * fault in it is read as a tag (a 200 answers it, never a 304 it did not ask for).
 */

/** Whether `header` names `etag` (a strong tag, quoted: `"abc"`), or is `*`. */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const want = etag.slice(1, -1); // the opaque tag without its quotes
  let i = 0;
  const skip = () => {
    while (i < header.length && (header[i] === ' ' || header[i] === '\t' || header[i] === ',')) i++;
  };
  skip();
  // RFC 9110 13.1.2: `*` stands alone; in a list it is malformed.
  if (header.slice(i).trimEnd() === '*') return true;
  while (i < header.length) {
    if (header.startsWith('W/', i)) i += 2;
    if (header[i] !== '"') return false;
    const end = header.indexOf('"', i + 1);
    if (end < 0) return false;
    if (end - i - 1 === want.length && header.startsWith(want, i + 1)) return true;
    i = end + 1;
    // After a tag: optional whitespace, then a comma or the end.
    while (i < header.length && (header[i] === ' ' || header[i] === '\t')) i++;
    if (i < header.length && header[i] !== ',') return false;
    skip();
  }
  return false;
}
