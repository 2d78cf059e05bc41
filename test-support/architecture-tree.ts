/**
 * The source trees of docs/architecture.md, read as the files they name, so that a package's
 * layout test can hold its tree to its `src/` (a file added, renamed or removed without the doc
 * fails there).
 *
 * A tree is a fenced block whose first line is its root (`packages/riptide/src/`). Below it, a
 * folder is a line whose first column is `name/`; it holds the lines indented deeper than it. A
 * file is named as `name.ts` anywhere on a line of its folder, in the first column or in the
 * description (`search/  terms.ts (...), fold.ts (...)`), or as `folder/name.ts` in the first
 * column. A name written with a folder in a description (`core/extension.ts`,
 * `shared/markup.ts`) refers to another file and names nothing here. The block ends at the next
 * line that is not indented (the test folder's line).
 */

/** The files a tree names, as paths relative to its root (`core/errors.ts`, `index.ts`), sorted. */
export function treeFiles(doc: string, root: string): string[] {
  const lines = doc
    .split(/^```[^\n]*$/m)
    .map((part) => part.replace(/^\n/, '').split('\n'))
    .find((block) => block[0].split(/\s/)[0] === root);
  if (lines === undefined) throw new Error(`no tree starting with ${root} in the document`);
  const files = new Set<string>();
  /** The open folders, innermost last: their indent and path ('' for the root). */
  const folders: Array<{ indent: number; path: string }> = [{ indent: 0, path: '' }];
  for (const line of lines.slice(1)) {
    if (line.trim() === '') continue;
    const indent = line.length - line.trimStart().length;
    if (indent === 0) break;
    while (folders.length > 1 && folders[folders.length - 1].indent >= indent) folders.pop();
    const [first, ...rest] = line.trim().split(/\s{2,}/);
    let description = rest.join('  ');
    const folder = /^([\w-]+\/)+$/.exec(first);
    if (folder) {
      folders.push({ indent, path: folders[folders.length - 1].path + first });
    } else {
      const path = /^((?:[\w-]+\/)+)([\w.-]+\.ts)$/.exec(first);
      if (path) files.add(folders[folders.length - 1].path + first);
      else description = line.trim();
    }
    const here = folders[folders.length - 1].path;
    for (const m of description.matchAll(/(?<![\w./-])[\w-]+(?:\.[\w-]+)*\.ts(?![\w/])/g)) {
      files.add(here + m[0]);
    }
  }
  return [...files].sort();
}
