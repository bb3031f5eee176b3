// A flagged value as `privacy test` shows it: enough to recognise it, not enough to use it.

/** `gh************9a (40 chars)`: first and last characters only, the rest starred. */
export function maskValue(value: string): string {
  const chars = [...value];
  const n = chars.length;
  if (n <= 4) return "*".repeat(n);
  const keep = n >= 16 ? 3 : n >= 8 ? 2 : 1;
  const visible = (part: string[]) => part.join("").replace(/\s/g, " ");
  const stars = "*".repeat(Math.min(n - 2 * keep, 12));
  return `${visible(chars.slice(0, keep))}${stars}${visible(chars.slice(n - keep))} (${n} chars)`;
}
