/**
 * The form search words are compared in, the same for the query, the SQLite index and the Redis
 * scan (search/terms.ts applies it to each word):
 *
 *   1. NFKD, compatibility decomposition: a ligature is its letters ("ﬁle" = "file"), full-width
 *      and other compatibility forms are the plain ones ("ＡＢＣ" = "ABC", "²" = "2"), and accented
 *      letters are split into letter and mark;
 *   2. full case folding (Unicode CaseFolding.txt, statuses C and F, without the Turkic T
 *      mappings): toLowerCase, then CASE_FOLDS for where folding and lower case differ;
 *   3. combining marks removed: "Café" = "cafe", "ä" = "a" (not "ae": German's ä/ae equivalence
 *      is a spelling convention, not a Unicode folding, and "ae" would make "Mae" find "Mä");
 *   4. anything that is not a letter, digit or private-use character removed (NFKD turns "½" into
 *      "1⁄2": the word stays one word, "12").
 *
 * Why not `toUpperCase().toLowerCase()` (which does give "ss" for ß): it folds the Turkish dotless
 * ı into i (CaseFolding keeps them apart outside Turkic), leaves capital ẞ as ß (ẞ uppercases to
 * itself), and toLowerCase's Final_Sigma rule makes a word's σ depend on what follows it, so a
 * prefix "οδοσ" (→ "οδος") would no longer begin "οδοσμος". Case folding has no context: ς → σ.
 *
 * CASE_FOLDS is what remains of CaseFolding.txt once NFKD and toLowerCase have run (the other
 * one-to-many foldings, ligatures and ŉ, are compatibility decompositions): the test
 * (test/search/fold.test.ts) checks every code point against JavaScript's own Unicode data, the
 * simple folding of /iu regular expressions and the one-to-many upper cases of toUpperCase.
 *
 * Locale-free on purpose: Turkish I is folded to i (CaseFolding's default), as for every language.
 * Words indexed with an earlier fold are reindexed: FOLD_VERSION counts the changes of this file.
 */

/**
 * Bumped whenever fold() changes what a word folds to: the SQLite index holds folded words and
 * rebuilds itself when its version differs (backends/sqlite/search.ts). 1 was NFD + marks
 * removed + toLowerCase; 2 is this file.
 */
export const FOLD_VERSION = 2;

const CASE_FOLDS: Readonly<Record<string, string>> = {
  ß: 'ss', // F: 00DF (ẞ, 1E9E, lower-cases to it)
  ς: 'σ', // C: 03C2 (and ϲ, 03F2, whose NFKD is ς)
  '\u0345': 'ι', // C: 0345 combining ypogegrammeni (ᾳ = αι, ΑΙ, as its full folding says)
  '\u1c80': 'в', // C: 1C80-1C88, old Cyrillic letter variants with no upper case of their own
  '\u1c81': 'д',
  '\u1c82': 'о',
  '\u1c83': 'с',
  '\u1c84': 'т',
  '\u1c85': 'т',
  '\u1c86': 'ъ',
  '\u1c87': 'ѣ',
  '\u1c88': 'ꙋ',
};
const CASE_FOLD = new RegExp(`[${Object.keys(CASE_FOLDS).join('')}]`, 'gu');
const MARKS = /\p{M}/gu;
const NOT_WORD = /[^\p{L}\p{N}\p{Co}]/gu;

/** The folded form of one word (possibly '' for a word of marks alone). */
export function fold(word: string): string {
  return word
    .normalize('NFKD')
    .toLowerCase()
    .replace(CASE_FOLD, (c) => CASE_FOLDS[c])
    .replace(MARKS, '')
    .replace(NOT_WORD, '');
}
