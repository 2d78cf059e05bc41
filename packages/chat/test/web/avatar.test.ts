/**
 * web/avatar.ts without a DOM: the colour a name gets (stable, case-insensitive, white text
 * readable on it) and its initials. avatar() itself, the element: the e2e tests (a11y.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { avatarColour, initials } from '../../src/web/avatar.js';

/** WCAG 2.x relative luminance of #rrggbb. */
function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
const contrastWithWhite = (hex: string) => 1.05 / (luminance(hex) + 0.05);

const names = Array.from({ length: 2000 }, (_, i) => `user${i}`);

describe('avatarColour', () => {
  it('is the same for a name on every call, whatever its case', () => {
    for (const name of ['ann', 'Bob_2', 'zoë', 'x']) {
      expect(avatarColour(name)).toBe(avatarColour(name));
      expect(avatarColour(name.toUpperCase())).toBe(avatarColour(name));
    }
  });

  it('spreads names over the whole palette (12 colours), each a #rrggbb', () => {
    const colours = new Set(names.map(avatarColour));
    expect(colours.size).toBe(12);
    for (const c of colours) expect(c).toMatch(/^#[0-9a-f]{6}$/);
  });

  it('white initials on every colour have a contrast of at least 4.5:1 (WCAG AA)', () => {
    for (const c of new Set(names.map(avatarColour)))
      expect(contrastWithWhite(c), c).toBeGreaterThanOrEqual(4.5);
  });
});

describe('initials', () => {
  it.each([
    ['ann', 'A'],
    ['ann-marie', 'AM'],
    ['ann_marie_lee', 'AM'],
    ['AnnMarie', 'AM'],
    ['bob2Go', 'BG'],
    ['ANN', 'A'],
    ['-_-', '?'],
    ['', '?'],
    ['émile-zola', 'ÉZ'],
    ['😀-x', '😀X'],
  ])('%j -> %j', (name, expected) => {
    expect(initials(name)).toBe(expected);
  });
});
