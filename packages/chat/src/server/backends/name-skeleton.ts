/**
 * A user name's skeleton: what the name looks like, with the letters that read alike in common
 * fonts folded into one. Two names with one skeleton are look-alikes (`alice` and `aIice`, with a
 * capital I), and a sign-up whose name's skeleton is an existing account's is refused like a taken
 * name: in a chat, a look-alike name is an impersonation. Both stores keep the skeleton of every
 * account under a uniqueness constraint written with the account (SQLite: the `users.skeleton`
 * unique index, schema.ts; Redis: the `skeleton:<skeleton>` key, set by the sign-up script), so two
 * look-alikes signing up at once cannot both succeed. A change to what the skeleton of a name is
 * changes the stored ones too: a SQLite migration step, and on Redis a new version of the start's
 * skeleton pass (done-markers.ts, `skeletons:v<n>`), whose marker of the version before would skip it.
 *
 * Names are ASCII (`A-Z a-z 0-9 - _`, protocol.ts USER_NAME). The classes, decided on the glyphs
 * of the allowed characters, in the case the name is written in (a name is shown as it was
 * created):
 * - capital I, small l and the digit 1: one vertical stroke in many sans-serif fonts -> `l`. (A
 *   small i keeps its dot and stays apart, so `ian` and `lan` differ; `Ian` and `lan` do not.)
 * - capital O, small o and the digit 0 -> `o`: a round glyph that only its height or width tells
 *   apart, which a name in a list does not show.
 * - then the whole name in lower case: names are already unique ignoring case.
 * - m is written `rn`, w is written `vv`: the pairs that read as one letter at small sizes. They
 *   are expanded rather than the pairs contracted, so the skeleton does not depend on where a pair
 *   starts (`vvv`, `wv` and `vw` are all `vvvv`; `rnm` and `mrn` are both `rnrn`).
 * Left out: `cl`/`d` (ordinary distinct names such as `clare` and `dare`, or `clan` and `dan`,
 * would refuse each other, and the ascender of d is visible at the chat's sizes), digit/letter
 * pairs such as 5/S, 8/B, 2/Z (legible in the chat's font; folding them would refuse many names
 * with numbers), and `-` against `_` (they sit at different heights).
 */

/** Single characters folded, in the name's own case (before it is lowered). */
const SAME_GLYPH: Readonly<Record<string, string>> = { I: 'l', '1': 'l', O: 'o', '0': 'o' };

/** Letters that read as a pair of others, written as that pair (after lowering). */
const AS_PAIR: Readonly<Record<string, string>> = { m: 'rn', w: 'vv' };

/**
 * The skeleton of a user name (at most twice its length). Equal skeletons mean look-alike names.
 * It depends on the case the name is written in (`Ian` is `lan`, `ian` is `ian`): names equal
 * ignoring case are one account already, refused as taken before their skeletons matter.
 */
export function nameSkeleton(name: string): string {
  let out = '';
  for (const ch of name) {
    const lower = (SAME_GLYPH[ch] ?? ch).toLowerCase();
    out += AS_PAIR[lower] ?? lower;
  }
  return out;
}
