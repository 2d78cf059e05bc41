// Writes the option tables of docs/node-layer.md from the one source of each option: its entry in
// src/node/options.ts (the doc comment says what it does; the entry holds its default and where
// it comes from). Run after `npm run build`:
//
//   node packages/riptide/scripts/options-doc.mjs           rewrite the tables in the doc
//   node packages/riptide/scripts/options-doc.mjs --check   exit 1 if the doc is out of date
//
// The tables sit between `<!-- options:server -->` / `<!-- options:client -->` and
// `<!-- /options -->` markers.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sourceFile = join(root, 'src', 'node', 'options.ts');
const docFile = join(root, '..', '..', 'docs', 'node-layer.md');

/** name -> doc comment text, for the properties of `export const <table> = { ... }`. */
function docComments(tableName) {
  const text = readFileSync(sourceFile, 'utf8');
  const file = ts.createSourceFile(sourceFile, text, ts.ScriptTarget.Latest, true);
  const docs = new Map();
  const visit = (node) => {
    if (ts.isVariableDeclaration(node) && node.name.getText(file) === tableName) {
      let init = node.initializer;
      while (init && !ts.isObjectLiteralExpression(init)) init = init.expression;
      for (const prop of init.properties) {
        const comment = ts.getJSDocCommentsAndTags(prop).map((c) => ts.getTextOfJSDocComment(c.comment));
        docs.set(prop.name.getText(file), comment.join(' ').replace(/\s+/g, ' ').trim());
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return docs;
}

function formatDefault(value) {
  if (value === undefined) return '';
  if (typeof value === 'string') return `\`'${value}'\``;
  return `\`${JSON.stringify(value)}\``;
}

function table(name, schema) {
  const docs = docComments(name);
  const rows = ['| option | default | from | what it does |', '| --- | --- | --- | --- |'];
  const request = [];
  const url = [];
  for (const [key, spec] of Object.entries(schema)) {
    if (spec.origin === 'request') {
      request.push(`\`${key}\``);
      continue;
    }
    if (spec.origin === 'url') {
      url.push(`\`${key}\``);
      continue;
    }
    const doc = docs.get(key);
    if (!doc) throw new Error(`${name}.${key} has no doc comment in ${sourceFile}`);
    rows.push(`| \`${key}\` | ${formatDefault(spec.default)} | ${spec.origin} | ${doc} |`);
  }
  let out = rows.join('\n');
  if (request.length > 0) {
    out += `\n\nPassed to \`http.request\` / \`https.request\` / \`net.connect\` / \`tls.connect\` as given: ${request.join(', ')}; and so are the keys this table does not have (see "Unknown option keys").`;
  }
  if (url.length > 0) out += `\n\nAccepted and ignored, as in ws (the URL decides them): ${url.join(', ')}.`;
  return out;
}

/** `doc` with its option tables rewritten from `options` (the exports of node/options). */
export function withOptionTables(doc, options) {
  let updated = doc;
  const generated = {
    server: table('SERVER_OPTIONS', options.SERVER_OPTIONS),
    client: table('CLIENT_OPTIONS', options.CLIENT_OPTIONS),
  };
  for (const [which, body] of Object.entries(generated)) {
    const open = `<!-- options:${which} -->`;
    const start = updated.indexOf(open);
    const end = updated.indexOf('<!-- /options -->', start);
    if (start === -1 || end === -1) throw new Error(`${docFile} has no ${open} ... <!-- /options --> block`);
    updated = `${updated.slice(0, start + open.length)}\n\n${body}\n\n${updated.slice(end)}`;
  }
  return updated;
}

export { docFile };

/**
 * The same text once table padding is ignored: `npm run format` (Biome) aligns the columns of
 * Markdown tables, the generator writes them unpadded.
 */
export function sameIgnoringTablePadding(a, b) {
  const normalize = (text) =>
    text
      .split('\n')
      .map((line) => (line.startsWith('|') ? line.replace(/ {2,}/g, ' ').replace(/-{3,}/g, '---') : line))
      .join('\n');
  return normalize(a) === normalize(b);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const options = await import(pathToFileURL(join(root, 'dist', 'esm', 'node', 'options.js')).href);
  const doc = readFileSync(docFile, 'utf8');
  const updated = withOptionTables(doc, options);
  if (process.argv.includes('--check')) {
    if (!sameIgnoringTablePadding(updated, doc)) {
      console.error(
        'docs/node-layer.md: the option tables are out of date; run node packages/riptide/scripts/options-doc.mjs',
      );
      process.exit(1);
    }
  } else if (!sameIgnoringTablePadding(updated, doc)) {
    writeFileSync(docFile, updated);
    console.log('docs/node-layer.md: option tables rewritten (npm run format aligns them)');
  }
}
