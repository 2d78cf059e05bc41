/**
 * Avatars: a user's initials on a colour derived from the name, the same on every page. The
 * palette holds colours on which white text has a contrast of at least 4.5:1 (WCAG AA).
 */
const PALETTE = [
  '#b3261e',
  '#a0400a',
  '#7a5a00',
  '#3d6b00',
  '#1b7f3b',
  '#00695c',
  '#00658a',
  '#0b57d0',
  '#5b3cc4',
  '#8e24aa',
  '#ad1457',
  '#5d4037',
];

/** FNV-1a over the lower-cased name: small, stable, spreads similar names apart. */
function hash(name: string): number {
  let h = 0x811c9dc5;
  for (const ch of name.toLowerCase()) {
    h ^= ch.codePointAt(0) ?? 0;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function avatarColour(name: string): string {
  return PALETTE[hash(name) % PALETTE.length];
}

/** Up to two letters: the starts of the name's parts (split at - _ and lower-to-upper changes). */
export function initials(name: string): string {
  const parts = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[\s_-]+/)
    .filter((p) => p !== '');
  if (parts.length === 0) return '?';
  const letters = parts.length === 1 ? [...parts[0]].slice(0, 1) : [[...parts[0]][0], [...parts[1]][0]];
  return letters.join('').toUpperCase();
}

export function avatar(name: string, className = 'avatar'): HTMLElement {
  const node = document.createElement('span');
  node.className = className;
  node.textContent = initials(name);
  node.style.backgroundColor = avatarColour(name);
  node.setAttribute('aria-hidden', 'true');
  return node;
}
