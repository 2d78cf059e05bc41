/**
 * axe-core in the page under test: its script is evaluated through the DevTools protocol (so the
 * server's Content-Security-Policy, which allows no inline script, need not be loosened), then
 * `axe.run` checks the document as it is drawn now against the WCAG 2.x A and AA rules and axe's
 * best practices. Every violation is returned whatever its impact (the brief asks for no serious
 * or critical one; the page has none of the lesser ones either, so the tests hold it to that),
 * each as its rule, impact, element and axe's summary, so a failure says what to fix.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AxeResults } from 'axe-core';
import type { Page } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** One line per failing element: `rule (impact) selector: what is wrong`. */
export async function axeViolations(page: Page): Promise<string[]> {
  const loaded = await page.evaluate(() => 'axe' in window);
  if (!loaded) await page.evaluate(AXE_SOURCE);
  const results = (await page.evaluate(() =>
    (window as unknown as { axe: { run(context: Document, options: object): Promise<unknown> } }).axe.run(
      document,
      {
        resultTypes: ['violations'],
        runOnly: {
          type: 'tag',
          values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'],
        },
      },
    ),
  )) as AxeResults;
  const found: string[] = [];
  for (const violation of results.violations) {
    for (const node of violation.nodes) {
      const summary = (node.failureSummary ?? '').replace(/\s+/g, ' ').trim();
      found.push(`${violation.id} (${violation.impact}) ${node.target.join(' ')}: ${summary}`);
    }
  }
  return found;
}
