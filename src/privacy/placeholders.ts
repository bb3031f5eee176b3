// What replaces a redacted value: `[redacted:email]`. Within one turn the same value always gets
// the same placeholder and another value of the same kind the next number (`[redacted:email#2]`),
// so a reader can still tell two addresses apart without seeing either. Values are remembered
// by digest only, for the turn.

import { createHash } from "node:crypto";

export class Placeholders {
  readonly #byValue = new Map<string, string>();
  readonly #perLabel = new Map<string, number>();

  for(label: string, value: string): string {
    const key = createHash("sha256").update(label).update("\0").update(value).digest("base64");
    let placeholder = this.#byValue.get(key);
    if (placeholder === undefined) {
      const n = (this.#perLabel.get(label) ?? 0) + 1;
      this.#perLabel.set(label, n);
      placeholder = n === 1 ? `[redacted:${label}]` : `[redacted:${label}#${n}]`;
      this.#byValue.set(key, placeholder);
    }
    return placeholder;
  }
}
