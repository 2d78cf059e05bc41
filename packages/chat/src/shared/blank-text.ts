/**
 * Blank text: nothing a reader would see. Shared so the server's validation (hub/validate.ts) and
 * the page's composer (web/main.ts) refuse exactly the same messages.
 *
 * Blank means only white space (what String.prototype.trim removes), Default_Ignorable_Code_Point
 * characters (zero-width space and joiners U+200B-U+200D, word joiner U+2060, BOM U+FEFF, soft
 * hyphen, variation selectors, Hangul fillers, tags...) and format characters (general category
 * Cf: bidi controls, invisible operators...). The prepended concatenation marks (U+0600-U+0605,
 * U+06DD, U+070F, U+0890-U+0891, U+08E2, U+110BD, U+110CD) are Cf too but are drawn as signs, so
 * they count as visible. Such characters among visible text are kept as they are: the ZWJ in 👩‍💻
 * and the ZWNJ in Persian words carry meaning.
 */
const BLANK =
  /^(?:(?![\u0600-\u0605\u06DD\u070F\u0890\u0891\u08E2\u{110BD}\u{110CD}])[\s\p{Default_Ignorable_Code_Point}\p{Cf}])*$/u;

/** Whether `text` shows nothing: empty, or only white space and invisible characters. */
export function isBlankText(text: string): boolean {
  return BLANK.test(text);
}
