/**
 * Light and dark: the page follows `prefers-color-scheme` until the user picks one with the
 * toggle; the choice is kept in localStorage. The theme is `data-theme` on <html>, which the
 * style sheet reads (style.css holds both palettes).
 */
type Theme = 'light' | 'dark';

const KEY = 'riptide-chat-theme';

function systemTheme(): Theme {
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function chosen(): Theme | null {
  const value = localStorage.getItem(KEY);
  return value === 'light' || value === 'dark' ? value : null;
}

function apply(button: HTMLButtonElement): void {
  const theme = chosen() ?? systemTheme();
  document.documentElement.dataset.theme = theme;
  button.setAttribute('aria-pressed', String(theme === 'dark'));
  // The name stays "Dark theme" (aria-pressed says whether it is on); the glyph shows the other.
  (button.querySelector('.glyph') as HTMLElement).textContent = theme === 'dark' ? '☀' : '☾';
  button.title = theme === 'dark' ? 'Switch to light mode' : 'Switch to dark mode';
}

export function setUpTheme(button: HTMLButtonElement): void {
  apply(button);
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => apply(button));
  button.addEventListener('click', () => {
    const next: Theme = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
    // Back to following the system when the choice matches it again.
    if (next === systemTheme()) localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, next);
    apply(button);
  });
}
