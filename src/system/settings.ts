// Every settings object is its defaults overlaid with what the caller gave: one rule for that,
// so a key given as `undefined` means "the default" everywhere.

/** Defaults overlaid with the given values (undefined entries ignored). */
export function withDefaults<T extends object>(defaults: Readonly<T>, overrides?: Partial<T>): T {
  const out = { ...defaults } as T;
  for (const [key, value] of Object.entries(overrides ?? {})) {
    if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  }
  return out;
}
