/**
 * A text field's placeholder that fits: the longest of several wordings (a hint first, a bare
 * name last) that the field shows whole at its present size, chosen again whenever the field's
 * size changes (a phone's composer is too small for the hint, which it used to cut off).
 */

/** Whether `field`, at its present size and empty, shows `text` as its placeholder whole. */
function fits(field: HTMLTextAreaElement, text: string): boolean {
  // Measured on an empty copy beside it, so the user's own text (and caret) are left alone.
  const probe = field.cloneNode(false) as HTMLTextAreaElement;
  probe.removeAttribute('id');
  probe.setAttribute('aria-hidden', 'true');
  probe.tabIndex = -1;
  probe.value = '';
  probe.placeholder = text;
  probe.style.cssText = `position:absolute;visibility:hidden;flex:none;width:${field.offsetWidth}px;height:${field.offsetHeight}px`;
  field.after(probe);
  const whole = probe.scrollHeight <= probe.clientHeight && probe.scrollWidth <= probe.clientWidth;
  probe.remove();
  return whole;
}

/** Keeps `field`'s placeholder the first of `wordings` that fits (the last one if none does). */
export function fitPlaceholder(field: HTMLTextAreaElement, wordings: readonly string[]): void {
  const choose = () => {
    if (field.offsetWidth === 0) return; // not shown: chosen when it is
    field.placeholder = wordings.find((w) => fits(field, w)) ?? (wordings.at(-1) as string);
  };
  new ResizeObserver(choose).observe(field);
}
